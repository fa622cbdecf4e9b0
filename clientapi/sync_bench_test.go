package clientapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/warbler-im/warbler/roomserver"
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
		bb.initialSync(b)
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

// BenchmarkSyncIncremental measures what a long-poll woken by one new
// message does: an incremental /sync over 20 joined rooms from the token
// just before the message.
func BenchmarkSyncIncremental(b *testing.B) {
	bb := newBundleBench(b, false)
	since := bb.syncOnce(b, "").NextBatch
	raw := []byte(`{"msgtype":"m.text","body":"new"}`)
	if _, err := bb.api.Rooms.SendEvent(b.Context(), roomserver.EventRequest{RoomID: bb.rooms[0], Sender: bb.user, Type: "m.room.message", Content: raw}); err != nil {
		b.Fatal(err)
	}
	start := processCPU()
	n := 0
	for b.Loop() {
		if resp := bb.syncOnce(b, since); len(resp.Rooms.Join) != 1 {
			b.Fatalf("%d rooms in the sync, want the one with the message", len(resp.Rooms.Join))
		}
		n++
	}
	b.ReportMetric(float64((processCPU()-start).Microseconds())/float64(n), "cpu-µs/op")
}

type benchSyncResponse struct {
	NextBatch string `json:"next_batch"`
	Rooms     struct {
		Join map[string]json.RawMessage `json:"join"`
	} `json:"rooms"`
}

func (bb *bundleBench) syncOnce(b *testing.B, since string) benchSyncResponse {
	path := "/_matrix/client/v3/sync"
	if since != "" {
		path += "?since=" + url.QueryEscape(since)
	}
	req := httptest.NewRequest("GET", path, nil)
	req.Header.Set("Authorization", "Bearer "+bb.token)
	rec := httptest.NewRecorder()
	bb.router.ServeHTTP(rec, req)
	var out benchSyncResponse
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &out) != nil {
		b.Fatalf("sync: %d %s", rec.Code, rec.Body)
	}
	return out
}
