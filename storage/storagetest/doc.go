// Package storagetest is the one behaviour suite every storage.Database
// implementation must pass, so SQLite and PostgreSQL cannot drift apart: Run
// drives every method through its success and error paths, transactions
// that must be all-or-nothing, concurrent writers, and close and reopen.
// BenchmarkLookupAccessToken measures the hot path of every authenticated
// request on any implementation.
//
// It is test support: only _test.go files should import it. It must not
// know which engine it is testing, and must not reach past the storage
// interfaces into tables or SQL.
package storagetest
