package loadtest

import (
	"sync"
	"time"
)

// tracker matches what was sent with what /sync delivered. The send time is
// taken before the request goes out, because a listener can see the event
// before the sender has its answer.
type tracker struct {
	mu      sync.Mutex
	sentAt  map[int]time.Time
	ok      map[int]bool
	latency map[int]time.Duration
	// ackedAt and arrivedAt give the delay between the sender's answer and
	// the listener's sight of the event (see afterAck).
	ackedAt   map[int]time.Time
	arrivedAt map[int]time.Time
	succeeded int
	delivered int // of the succeeded sends
}

func newTracker() *tracker {
	return &tracker{sentAt: map[int]time.Time{}, ok: map[int]bool{}, latency: map[int]time.Duration{},
		ackedAt: map[int]time.Time{}, arrivedAt: map[int]time.Time{}}
}

func (t *tracker) begin(seq int, at time.Time) {
	t.mu.Lock()
	t.sentAt[seq] = at
	t.mu.Unlock()
}

// finished records that the send of seq succeeded, answered at at.
func (t *tracker) finished(seq int, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ok[seq] = true
	t.ackedAt[seq] = at
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
	t.arrivedAt[seq] = at
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

// afterAck returns, for each successful and delivered send, how long after
// the sender had its answer the listener saw the event (zero when the
// listener saw it first). Unlike deliveries, it leaves out the time the
// server took to accept the event, which send already measures: it is
// what the other member waits once the sender's client shows the message
// as sent.
func (t *tracker) afterAck() []time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []time.Duration
	for seq, arrived := range t.arrivedAt {
		if acked, ok := t.ackedAt[seq]; ok {
			out = append(out, max(0, arrived.Sub(acked)))
		}
	}
	return out
}
