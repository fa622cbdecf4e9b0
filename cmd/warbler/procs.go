package main

import (
	"os"
	"runtime"
	"runtime/debug"

	"github.com/warbler-im/warbler/config"
	"github.com/warbler-im/warbler/internal/cpus"
)

// setProcs raises GOMAXPROCS on SQLite to database.sqlite.procs_per_cpu
// times the CPUs (config.sample.yaml says why), unless the GOMAXPROCS
// environment variable chose a value. Limits that scale with the CPUs
// read cpus.N, which keeps the count from before.
func setProcs(db config.Database) {
	if os.Getenv("GOMAXPROCS") != "" || db.IsPostgres() || db.SQLite.ProcsPerCPU <= 1 {
		return
	}
	runtime.GOMAXPROCS(cpus.N * db.SQLite.ProcsPerCPU)
}

// setGCPercent sets the garbage collector's target to memory.gc_percent
// (config.sample.yaml says why), unless the GOGC environment variable
// chose one.
func setGCPercent(m config.Memory) {
	if os.Getenv("GOGC") != "" {
		return
	}
	debug.SetGCPercent(m.GCPercent)
}
