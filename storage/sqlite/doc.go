// Package sqlite opens Warbler's embedded default database: one SQLite file
// (pure Go driver, no cgo) in WAL mode, with one writer connection so that
// writes queue instead of failing with SQLITE_BUSY, and a pool of read-only
// connections that read beside it. The schema lives in migrations/ and is
// applied by sqlstore at open.
//
// It must not contain queries: those are written once, in sqlstore, for both
// engines. Keep migrations/ parallel with storage/postgres/migrations.
package sqlite
