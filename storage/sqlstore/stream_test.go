package sqlstore

import (
	"testing"
	"time"
)

// TestStreamTrackerVisible: the visible end stays below the lowest
// position in flight, never passes the highest committed one (a rolled
// back write's positions are gaps), and a committed writer waits for the
// writers before it.
func TestStreamTrackerVisible(t *testing.T) {
	tr := newStreamTracker(10)
	register := func(ps ...int64) {
		tr.mu.Lock()
		tr.inflight = append(tr.inflight, ps...)
		tr.mu.Unlock()
	}
	want := func(label string, v int64) {
		t.Helper()
		if got := tr.visible(); got != v {
			t.Errorf("%s: visible %d, want %d", label, got, v)
		}
	}
	want("at open", 10)
	register(11, 12)
	register(13)
	want("three in flight", 10)
	tr.finish([]int64{11, 12}, false)
	want("11 and 12 rolled back", 10)

	done := make(chan struct{})
	register(14)
	go func() { tr.finish([]int64{14}, true); close(done) }()
	select {
	case <-done:
		t.Fatal("14 finished while 13 was in flight")
	case <-time.After(20 * time.Millisecond):
	}
	want("14 committed, 13 in flight: 11 and 12 are gaps", 12)
	tr.finish([]int64{13}, true)
	<-done
	want("13 and 14 committed", 14)
}
