package clientapi

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"
)

// BenchmarkSyncStateAfter measures /sync of 20 rooms × 10 messages with
// and without use_state_after: initial, and incremental from the start
// of the stream (limited timelines, so state deltas).
func BenchmarkSyncStateAfter(b *testing.B) {
	for _, since := range []string{"", "&since=s0"} {
		for _, flag := range []string{"false", "true"} {
			b.Run(fmt.Sprintf("since=%q/use_state_after=%s", since, flag), func(b *testing.B) {
				bb := newBundleBench(b, false)
				path := "/_matrix/client/v3/sync?use_state_after=" + flag + since
				for b.Loop() {
					req := httptest.NewRequest("GET", path, nil)
					req.Header.Set("Authorization", "Bearer "+bb.token)
					rec := httptest.NewRecorder()
					bb.router.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Fatalf("sync: %d %s", rec.Code, rec.Body)
					}
				}
			})
		}
	}
}

// BenchmarkSyncInitial measures a full initial /sync of 20 rooms × 10
// messages. The machine it runs on is often shared, so it also reports the
// process's CPU time per sync (cpu-µs/op), which other load disturbs less
// than the wall time.
func BenchmarkSyncInitial(b *testing.B) {
	bb := newBundleBench(b, false)
	start := processCPU()
	n := 0
	for b.Loop() {
		req := httptest.NewRequest("GET", "/_matrix/client/v3/sync", nil)
		req.Header.Set("Authorization", "Bearer "+bb.token)
		rec := httptest.NewRecorder()
		bb.router.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("sync: %d %s", rec.Code, rec.Body)
		}
		n++
	}
	b.ReportMetric(float64((processCPU()-start).Microseconds())/float64(n), "cpu-µs/op")
}

// processCPU is the user and system CPU time the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
