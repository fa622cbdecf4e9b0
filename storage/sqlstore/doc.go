// Package sqlstore is Warbler's one SQL layer: every query is written here
// once, with PostgreSQL-style $1 placeholders, and runs on SQLite and
// PostgreSQL alike. A Dialect value holds the few differences between the
// two (placeholder syntax, how concurrent migrators are kept apart, the
// name of the substring search function), and each engine's schema
// arrives as embedded, numbered migration files that Open applies in
// order, once each, inside a transaction.
//
// A DB has a writer handle and a reader handle. For SQLite the writer is a
// single connection, so writes queue in Go instead of failing with
// SQLITE_BUSY, and the reader is a pool of read-only connections that WAL
// lets run beside it; for PostgreSQL both are the same pool.
//
// A DB keeps in-process caches of what every /sync and send reads (events
// by ID, each room's newest events, users' rooms, account data, key
// counts, joined servers, access-token lookups), each invalidated by this
// package's own writes (event_cache.go, recent.go, user_cache.go,
// tokens.go). They assume that one process
// writes the database, as the events stream tracker does (stream.go):
// several writing processes would need invalidation messages between them.
//
// Only the engine packages (storage/sqlite, storage/postgres) should call
// Open; everything else goes through the storage interfaces. This package
// must not import a database driver, open files or read configuration: its
// callers hand it ready *sql.DB pools.
package sqlstore
