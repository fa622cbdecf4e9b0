// Package pgtest gives each test its own empty PostgreSQL database, created
// on the server named by the WARBLER_TEST_POSTGRES environment variable (a
// postgres:// URL whose user may create databases) and dropped when the test
// ends. Any test may use it, not only storage tests: the black-box harness
// starts Warbler processes on the DSN it returns.
//
// It is for tests only and must not be imported by non-test code. It must
// never pass silently: without WARBLER_TEST_POSTGRES the test is skipped
// with a reason, and any failure to create the database fails the test.
package pgtest
