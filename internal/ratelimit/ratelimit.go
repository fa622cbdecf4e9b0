// Package ratelimit is a keyed token-bucket rate limiter with bounded
// memory, for throttling requests per client address or per user.
//
// It must not know about HTTP or Matrix: callers choose the keys and turn
// a refusal into whatever error their protocol uses.
package ratelimit

import (
	"math"
	"sync"
	"time"
)

// DefaultMaxKeys bounds how many keys a Limiter tracks at once.
const DefaultMaxKeys = 100_000

// Limiter gives each key a bucket of Burst tokens that refills at PerSecond
// tokens per second; each allowed event takes one token. A nil *Limiter
// allows everything, so "rate limiting off" needs no special case.
type Limiter struct {
	perSecond float64
	burst     float64
	maxKeys   int
	now       func() time.Time

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	tokens float64
	last   time.Time // when tokens was last brought up to date
}

// New returns a limiter; perSecond must be > 0 and burst >= 1.
func New(perSecond float64, burst int) *Limiter {
	return NewWithClock(perSecond, burst, DefaultMaxKeys, time.Now)
}

// NewWithClock is New with a chosen key bound and clock, for tests.
func NewWithClock(perSecond float64, burst, maxKeys int, now func() time.Time) *Limiter {
	return &Limiter{
		perSecond: perSecond,
		burst:     float64(burst),
		maxKeys:   maxKeys,
		now:       now,
		buckets:   make(map[string]*bucket),
	}
}

// Allow takes a token from key's bucket. If the bucket is empty it takes
// nothing and reports how long until a token is available.
func (l *Limiter) Allow(key string) (ok bool, retryAfter time.Duration) {
	return l.take(key, true)
}

// Check reports what Allow would, without taking a token: for limits that
// charge only failures (say, wrong passwords), checked before the attempt.
func (l *Limiter) Check(key string) (ok bool, retryAfter time.Duration) {
	return l.take(key, false)
}

func (l *Limiter) take(key string, consume bool) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.maybeSweep(now)
	b := l.refill(key, now)
	if b.tokens < 1 {
		return false, l.waitFor(1 - b.tokens)
	}
	if consume {
		b.tokens--
		l.remember(key, b)
	}
	return true, 0
}

// refill returns key's bucket brought up to now. A key without a bucket
// has a full one: it is stored only when a token is taken.
func (l *Limiter) refill(key string, now time.Time) *bucket {
	b, ok := l.buckets[key]
	if !ok {
		return &bucket{tokens: l.burst, last: now}
	}
	if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens = math.Min(l.burst, b.tokens+elapsed*l.perSecond)
		b.last = now
	}
	return b
}

func (l *Limiter) remember(key string, b *bucket) {
	if _, ok := l.buckets[key]; ok {
		return
	}
	if len(l.buckets) >= l.maxKeys {
		l.evictSome()
	}
	l.buckets[key] = b
}

// waitFor is how long the bucket needs to gain the missing tokens.
func (l *Limiter) waitFor(missing float64) time.Duration {
	return time.Duration(math.Ceil(missing / l.perSecond * float64(time.Second)))
}

// fullAfter is how long an untouched bucket takes to refill completely; a
// full bucket is the same as none, so idle buckets older than that go.
func (l *Limiter) fullAfter() time.Duration {
	return l.waitFor(l.burst)
}

// maybeSweep drops full buckets, at most once per refill period (and at
// least once a minute), so memory follows the set of recently active keys.
func (l *Limiter) maybeSweep(now time.Time) {
	interval := min(l.fullAfter(), time.Minute)
	if now.Sub(l.lastSweep) < interval {
		return
	}
	l.lastSweep = now
	full := l.fullAfter()
	for key, b := range l.buckets {
		if now.Sub(b.last) >= full {
			delete(l.buckets, key)
		}
	}
}

// evictSome makes room when the key bound is reached and nothing is idle
// enough to sweep: it forgets an arbitrary eighth of the keys. Forgetting
// a bucket forgives its key, which is the price of bounded memory under a
// flood of distinct keys.
func (l *Limiter) evictSome() {
	l.maybeSweep(l.now())
	toDrop := len(l.buckets) - l.maxKeys + 1
	toDrop = max(toDrop, l.maxKeys/8)
	for key := range l.buckets {
		if toDrop <= 0 {
			return
		}
		delete(l.buckets, key)
		toDrop--
	}
}

// Len reports how many keys are tracked, for tests and metrics.
func (l *Limiter) Len() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
