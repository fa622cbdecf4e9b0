package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/lib/pq"
)

// EnvVar names the environment variable holding the administrative DSN.
const EnvVar = "WARBLER_TEST_POSTGRES"

// adminTimeout bounds each CREATE or DROP so a wedged server fails the
// test instead of hanging it.
const adminTimeout = 30 * time.Second

// FreshDatabase creates a new, empty database named warbler_test_<random>
// and returns a DSN for it: the WARBLER_TEST_POSTGRES URL with its database
// name replaced. The database is dropped, after its remaining connections
// are terminated, when the test and its subtests finish, so close handles
// opened on it in a Cleanup registered after this call (or earlier).
//
// It skips the test when WARBLER_TEST_POSTGRES is unset.
func FreshDatabase(t testing.TB) string {
	t.Helper()
	adminDSN := os.Getenv(EnvVar)
	if adminDSN == "" {
		t.Skip("WARBLER_TEST_POSTGRES not set: PostgreSQL tests skipped")
	}
	dsn, err := url.Parse(adminDSN)
	if err != nil || (dsn.Scheme != "postgres" && dsn.Scheme != "postgresql") {
		t.Fatalf("%s must be a postgres:// URL, such as postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", EnvVar)
	}
	name := "warbler_test_" + randomHex(8)
	if err := adminExec(adminDSN, "CREATE DATABASE "+pq.QuoteIdentifier(name)); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := dropDatabase(adminDSN, name); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	dsn.Path = "/" + name
	return dsn.String()
}

// dropDatabase ends the connections still open on the database, which
// would otherwise block the drop, then drops it. FORCE (PostgreSQL 13+)
// also catches any connection that arrives between the two statements.
func dropDatabase(adminDSN, name string) error {
	const terminate = `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = $1 AND pid <> pg_backend_pid()`
	if err := adminExec(adminDSN, terminate, name); err != nil {
		return err
	}
	return adminExec(adminDSN, "DROP DATABASE IF EXISTS "+pq.QuoteIdentifier(name)+" WITH (FORCE)")
}

// adminExec runs one statement on a short-lived connection to the
// administrative database. CREATE and DROP DATABASE cannot run inside a
// transaction, and a pool kept open between tests would be one more
// connection for the drop to terminate.
func adminExec(adminDSN, statement string, args ...any) error {
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	admin, err := sql.Open("postgres", adminDSN)
	if err != nil {
		return err
	}
	defer admin.Close()
	_, err = admin.ExecContext(ctx, statement, args...)
	return err
}

// randomHex returns n random bytes in lower-case hex, which needs no
// quoting in an SQL identifier.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails since Go 1.24
	return hex.EncodeToString(b)
}
