package clientapi

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
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
