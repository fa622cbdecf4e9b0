// Package cpus says how many CPUs this process may use, as the Go runtime
// saw them when the process started (GOMAXPROCS's default: the CPUs
// available, cgroup limits included; or the GOMAXPROCS environment
// variable, if set).
//
// `warbler serve` then raises GOMAXPROCS above that count so that short
// requests are not queued behind long-running work (cmd/warbler,
// procs.go). Pools and limits meant to scale with the CPUs, such as the
// password-hashing and full-sync slots, read N instead of GOMAXPROCS, so
// that raising it does not raise them. This package must not change
// GOMAXPROCS itself.
package cpus
