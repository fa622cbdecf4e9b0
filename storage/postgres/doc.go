// Package postgres opens Warbler's PostgreSQL database, the choice for scale:
// one connection pool serves as both the writer and the reader handle of
// sqlstore, and the schema in migrations/ is applied at open under an
// advisory lock so several Warbler processes may start at once.
//
// It must not contain queries: those are written once, in sqlstore, for both
// engines. Keep migrations/ parallel with storage/sqlite/migrations.
// Test helpers live in the pgtest sub-package, never here.
package postgres
