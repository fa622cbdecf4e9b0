package ratelimit

import (
	"fmt"
	"testing"
	"time"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestLimiter(perSecond float64, burst, maxKeys int) (*Limiter, *fakeClock) {
	clock := &fakeClock{t: time.Unix(1_760_000_000, 0)}
	return NewWithClock(perSecond, burst, maxKeys, clock.now), clock
}

func TestBurstThenRefusal(t *testing.T) {
	l, clock := newTestLimiter(0.5, 3, 100) // one token every 2s
	for i := range 3 {
		if ok, _ := l.Allow("1.2.3.4"); !ok {
			t.Fatalf("request %d within the burst refused", i+1)
		}
	}
	ok, retry := l.Allow("1.2.3.4")
	if ok || retry != 2*time.Second {
		t.Fatalf("4th request: ok=%v retry=%v, want refusal with 2s", ok, retry)
	}
	clock.advance(500 * time.Millisecond)
	if ok, retry := l.Allow("1.2.3.4"); ok || retry != 1500*time.Millisecond {
		t.Fatalf("after 0.5s: ok=%v retry=%v, want refusal with 1.5s", ok, retry)
	}
	clock.advance(1500 * time.Millisecond)
	if ok, _ := l.Allow("1.2.3.4"); !ok {
		t.Fatal("refused after the advised wait")
	}
	if ok, _ := l.Allow("5.6.7.8"); !ok {
		t.Fatal("another key shares the bucket")
	}
}

func TestRefillStopsAtBurst(t *testing.T) {
	l, clock := newTestLimiter(10, 2, 100)
	l.Allow("k")
	clock.advance(time.Hour)
	allowed := 0
	for range 5 {
		if ok, _ := l.Allow("k"); ok {
			allowed++
		}
	}
	if allowed != 2 {
		t.Fatalf("after a long idle period %d requests passed, want the burst of 2", allowed)
	}
}

func TestCheckDoesNotTake(t *testing.T) {
	l, _ := newTestLimiter(1, 1, 100)
	for range 3 {
		if ok, _ := l.Check("k"); !ok {
			t.Fatal("Check refused a full bucket")
		}
	}
	l.Allow("k")
	if ok, retry := l.Check("k"); ok || retry != time.Second {
		t.Fatalf("Check on an empty bucket: ok=%v retry=%v", ok, retry)
	}
	if l.Len() != 1 {
		t.Fatalf("Len = %d, want 1", l.Len())
	}
}

func TestNilLimiterAllowsEverything(t *testing.T) {
	var l *Limiter
	for range 100 {
		if ok, _ := l.Allow("k"); !ok {
			t.Fatal("nil limiter refused")
		}
	}
	if l.Len() != 0 {
		t.Fatal("nil limiter tracks keys")
	}
}

func TestIdleBucketsAreForgotten(t *testing.T) {
	l, clock := newTestLimiter(1, 5, 1000) // full again 5s after last use
	for i := range 50 {
		l.Allow(fmt.Sprint("idle-", i))
	}
	clock.advance(6 * time.Second)
	l.Allow("fresh")
	if n := l.Len(); n != 1 {
		t.Fatalf("Len = %d after the idle buckets refilled, want 1", n)
	}
}

func TestKeyCountIsBounded(t *testing.T) {
	l, clock := newTestLimiter(0.001, 1, 64)
	for i := range 10_000 {
		l.Allow(fmt.Sprint("flood-", i))
		clock.advance(time.Millisecond)
		if n := l.Len(); n > 64 {
			t.Fatalf("Len = %d after %d keys, above the bound of 64", n, i+1)
		}
	}
}
