package clientapi

import (
	"context"
	"sync"
)

// Transaction IDs make PUT /send and /redact idempotent: a repeat of the
// same (user, device, endpoint, txnId) answers the first event ID instead
// of sending again. The map lives in memory only, so a repeat after a
// restart sends a second event; it is bounded, so a very old txnId may be
// forgotten too.

const maxTxns = 20000

type txnKey struct {
	user, device, endpoint, txnID string
}

// txnEntry is one transaction; done closes when eventID/err are final, so
// a concurrent repeat waits for the first request instead of sending.
type txnEntry struct {
	done    chan struct{}
	eventID string
	err     error
}

type txnStore struct {
	mu      sync.Mutex
	entries map[txnKey]*txnEntry
	byEvent map[string]txnKey
	order   []txnKey // oldest first, for eviction
}

func newTxnStore() *txnStore {
	return &txnStore{entries: map[txnKey]*txnEntry{}, byEvent: map[string]txnKey{}}
}

// txns is the API's transaction ID memory, made by init.
func (a *API) txns() *txnStore {
	a.initOnce.Do(a.init)
	return a.txnMemory
}

// do runs send once per key and returns its event ID. A failed send is
// forgotten, so the client may retry with the same txnId.
func (s *txnStore) do(ctx context.Context, key txnKey, send func() (string, error)) (string, error) {
	s.mu.Lock()
	if e, ok := s.entries[key]; ok {
		s.mu.Unlock()
		select {
		case <-e.done:
		case <-ctx.Done():
			return "", ctx.Err()
		}
		if e.err != nil {
			return s.do(ctx, key, send)
		}
		return e.eventID, nil
	}
	e := &txnEntry{done: make(chan struct{})}
	s.entries[key] = e
	s.mu.Unlock()

	e.eventID, e.err = send()
	s.mu.Lock()
	if e.err != nil {
		delete(s.entries, key)
	} else {
		s.remember(key, e.eventID)
	}
	s.mu.Unlock()
	close(e.done)
	return e.eventID, e.err
}

// remember records a finished transaction, evicting the oldest beyond
// maxTxns. The caller holds mu.
func (s *txnStore) remember(key txnKey, eventID string) {
	s.byEvent[eventID] = key
	s.order = append(s.order, key)
	for len(s.order) > maxTxns {
		old := s.order[0]
		s.order = s.order[1:]
		if e, ok := s.entries[old]; ok {
			delete(s.byEvent, e.eventID)
			delete(s.entries, old)
		}
	}
}

// TransactionIDFor returns the txnId a device sent an event with, for
// unsigned.transaction_id: the spec shows it only to the device that sent
// the event, so it answers false for any other user or device. Like the
// map behind it, it forgets on restart.
func (a *API) TransactionIDFor(eventID, userID, deviceID string) (string, bool) {
	s := a.txns()
	s.mu.Lock()
	defer s.mu.Unlock()
	key, ok := s.byEvent[eventID]
	if !ok || key.user != userID || key.device != deviceID {
		return "", false
	}
	return key.txnID, true
}
