package clientapi

import (
	"sync"
	"time"
)

const (
	// seenInterval is how stale a device's last_seen_ts may get before a
	// request writes it again (the spec allows "a few minutes").
	seenInterval = time.Minute
	// maxSeenDevices bounds the throttle's memory.
	maxSeenDevices = 100_000
)

// seenThrottle decides when a device's last-seen time is worth a write.
type seenThrottle struct {
	mu   sync.Mutex
	last map[string]seenMark // by "user|device"
}

type seenMark struct {
	at time.Time
	ip string
}

func newSeenThrottle() *seenThrottle {
	return &seenThrottle{last: make(map[string]seenMark)}
}

// due reports whether the device should be written now: it was not written
// within seenInterval, or it moved to another address.
func (s *seenThrottle) due(device, ip string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	mark, ok := s.last[device]
	if ok && mark.ip == ip && now.Sub(mark.at) < seenInterval {
		return false
	}
	if !ok && len(s.last) >= maxSeenDevices {
		// Forgetting only causes one extra write per device.
		clear(s.last)
	}
	s.last[device] = seenMark{at: now, ip: ip}
	return true
}

// hashSet is a bounded set of token hashes. When full it starts over:
// forgetting an entry only repeats a cheap check.
type hashSet struct {
	mu  sync.Mutex
	set map[string]struct{}
	max int
}

func newHashSet(max int) *hashSet {
	return &hashSet{set: make(map[string]struct{}), max: max}
}

func (h *hashSet) has(hash []byte) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.set[string(hash)]
	return ok
}

func (h *hashSet) add(hash []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.set) >= h.max {
		clear(h.set)
	}
	h.set[string(hash)] = struct{}{}
}
