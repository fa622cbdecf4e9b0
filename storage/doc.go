// Package storage defines what the rest of Warbler asks of its database:
// small interfaces grouped by the code that uses them (server signing keys,
// users, devices, access tokens, account data such as profiles and
// registration tokens, rooms with their events and shared-block state,
// remote server keys, media), the plain record types they exchange, and the
// sentinel errors ErrNotFound and ErrConflict.
//
// Implementations live in sub-packages: sqlite (the embedded default) and
// postgres (for scale), both built on the one SQL layer in sqlstore and both
// held to the same behaviour by the storagetest suite. Package open picks one
// from a database URL.
//
// This package must not import a database driver or any SQL, and must not
// hold policy: it does not check passwords, decide whether a token has
// expired, or read a clock. Callers pass timestamps (Unix milliseconds) and
// make those decisions; storage only records and returns facts.
package storage
