// Package open turns a database URL from the configuration into an open
// storage.Database: "sqlite:PATH" for the embedded default,
// "postgres://…" or "postgresql://…" for PostgreSQL.
//
// It only chooses and delegates; it must not hold queries, migrations or
// pool tuning of its own, and its errors must never echo a URL that may
// carry a password.
package open
