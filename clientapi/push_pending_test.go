package clientapi

import (
	"context"
	"net/url"
	"sync"
	"testing"
	"time"
)

// gatedPushRules is memPushRules whose reads wait while gate is held, so
// a test can hold the push listener in the middle of an evaluation.
type gatedPushRules struct {
	memPushRules
	gate sync.RWMutex
}

func (g *gatedPushRules) loadPushRules(ctx context.Context, userID string) ([]byte, error) {
	g.gate.RLock()
	defer g.gate.RUnlock()
	return g.memPushRules.loadPushRules(ctx, userID)
}

// TestWokenSyncWaitsForTheEvaluationOfItsEvents: long-polls wake before
// the push rules run over a new event, and a woken /sync holds its answer
// until the event's notification is counted, so the counts come with the
// event.
func TestWokenSyncWaitsForTheEvaluationOfItsEvents(t *testing.T) {
	rules := &gatedPushRules{memPushRules: memPushRules{rules: map[string][]byte{}}}
	e := newSyncEnvWith(t, func(a *API) { a.pushRuleStore = rules })
	room := e.createRoom(e.bob, e.alice)
	e.membership(room, e.alice, "join")
	since := e.sync(e.aliceToken, nil).str("next_batch")
	// Out of the cache, alice's rules are read at the next evaluation,
	// which waits at the gate.
	e.api.pushRules.cache.Remove(e.alice)

	rules.gate.Lock() // the push listener cannot read alice's rules
	answered := make(chan testResponse, 1)
	go func() {
		answered <- e.sync(e.aliceToken, url.Values{"since": {since}, "timeout": {"10000"}})
	}()
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		e.message(room, e.bob, "hello alice")
	}()
	select {
	case r := <-answered:
		t.Fatalf("the sync answered while the event was being evaluated: %v", r.body)
	case <-time.After(300 * time.Millisecond):
	}
	rules.gate.Unlock()
	r := <-answered
	<-sent
	if n, _ := unread(r, room); n != 1 {
		t.Errorf("unread count %v with the message, want 1", n)
	}
}

// TestPendingPushWaitIsBounded: a wait ends when its rooms are done, when
// its context ends, and at once for rooms with nothing pending.
func TestPendingPushWaitIsBounded(t *testing.T) {
	p := newPendingPush()
	rooms := func(ids ...string) func(func(string) bool) {
		return func(yield func(string) bool) {
			for _, id := range ids {
				if !yield(id) {
					return
				}
			}
		}
	}
	p.begin("!a")
	p.wait(t.Context(), rooms("!b")) // nothing pending for !b: no wait
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.wait(t.Context(), rooms("!b", "!a"))
	}()
	select {
	case <-done:
		t.Fatal("wait returned while !a was pending")
	case <-time.After(50 * time.Millisecond):
	}
	p.end("!a")
	<-done
	p.end("!a") // more ends than begins change nothing
	p.begin("!a")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	p.wait(ctx, rooms("!a")) // returns: its context is over
}
