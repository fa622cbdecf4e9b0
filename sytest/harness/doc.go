// Package harness starts and stops real warbler processes for the black-box
// tests in sytest: it builds the binary, picks free loopback ports, gives
// each server its own data directory and database (SQLite, or a fresh
// PostgreSQL database when WARBLER_TEST_POSTGRES holds a DSN), waits for
// readiness and offers a small JSON-over-HTTP client.
//
// It must not link the server's code into the test process: every
// interaction goes through the binary and HTTP.
package harness
