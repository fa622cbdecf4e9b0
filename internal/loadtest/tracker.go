package loadtest

import (
	"sync"
	"time"
)

// tracker matches what was sent with what /sync delivered. The send time is
// taken before the request goes out, because a listener can see the event
// before the sender has its answer.
type tracker struct {
	mu        sync.Mutex
	sentAt    map[int]time.Time
	ok        map[int]bool
	latency   map[int]time.Duration
	succeeded int
	delivered int // of the succeeded sends
}

func newTracker() *tracker {
	return &tracker{sentAt: map[int]time.Time{}, ok: map[int]bool{}, latency: map[int]time.Duration{}}
}

func (t *tracker) begin(seq int, at time.Time) {
	t.mu.Lock()
	t.sentAt[seq] = at
	t.mu.Unlock()
}

// finished records whether the send of seq succeeded.
func (t *tracker) finished(seq int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ok[seq] = true
	t.succeeded++
	if _, seen := t.latency[seq]; seen {
		t.delivered++
	}
}

// arrive records that a listener saw seq at time at; repeats (a listener
// seeing the same event twice) and unknown markers are ignored.
func (t *tracker) arrive(seq int, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	sent, known := t.sentAt[seq]
	if _, seen := t.latency[seq]; !known || seen {
		return
	}
	t.latency[seq] = at.Sub(sent)
	if t.ok[seq] {
		t.delivered++
	}
}

// allDelivered tells whether every successful send has been seen.
func (t *tracker) allDelivered() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.delivered == t.succeeded
}

// deliveries returns the latencies of successful sends and their count.
func (t *tracker) deliveries() []time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []time.Duration
	for seq, d := range t.latency {
		if t.ok[seq] {
			out = append(out, d)
		}
	}
	return out
}
