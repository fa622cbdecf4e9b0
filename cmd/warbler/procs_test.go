package main

import (
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/warbler-im/warbler/config"
	"github.com/warbler-im/warbler/internal/cpus"
)

// TestSetProcs: GOMAXPROCS is raised on SQLite only, and not when the
// environment chose it.
func TestSetProcs(t *testing.T) {
	orig := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(orig) })
	sqlite := config.Database{URL: "sqlite:/x.db", SQLite: config.SQLite{ProcsPerCPU: 4}}
	pg := config.Database{URL: "postgres://h/db", SQLite: config.SQLite{ProcsPerCPU: 4}}
	off := config.Database{SQLite: config.SQLite{ProcsPerCPU: 1}}
	for _, tc := range []struct {
		name string
		env  string
		db   config.Database
		want int
	}{
		{"sqlite", "", sqlite, 4 * cpus.N},
		{"default url is sqlite", "", config.Database{SQLite: config.SQLite{ProcsPerCPU: 3}}, 3 * cpus.N},
		{"postgres", "", pg, orig},
		{"turned off", "", off, orig},
		{"environment chose", "1", sqlite, orig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runtime.GOMAXPROCS(orig)
			t.Setenv("GOMAXPROCS", tc.env)
			setProcs(tc.db)
			if got := runtime.GOMAXPROCS(0); got != tc.want {
				t.Errorf("GOMAXPROCS %d, want %d", got, tc.want)
			}
		})
	}
}

// TestSetGCPercent: memory.gc_percent is the collector's target unless
// the environment chose one.
func TestSetGCPercent(t *testing.T) {
	orig := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(orig) })
	for _, tc := range []struct {
		name string
		env  string
		want int
	}{
		{"config", "", 70},
		{"environment chose", "100", 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetGCPercent(100)
			t.Setenv("GOGC", tc.env)
			setGCPercent(config.Memory{GCPercent: 70})
			if got := debug.SetGCPercent(100); got != tc.want {
				t.Errorf("GC percent %d, want %d", got, tc.want)
			}
		})
	}
}
