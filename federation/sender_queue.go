package federation

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/tidwall/gjson"

	"github.com/warbler-im/warbler/policy"
	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/storage"
)

// destination is the queue of one server: its goroutine, its backoff
// state and the ephemeral EDUs waiting for it.
type destination struct {
	name  string
	more  chan struct{} // something was queued
	wake  chan struct{} // the server showed it is up: retry now
	mu    sync.Mutex
	fails int // attempts failed in a row
	eph   []storage.FederationQueueItem
	// announce, when set, is closed once a transaction was tried: an
	// announcement of our start is owed (sender_announce.go).
	announce chan struct{}
	// last is the transaction that failed last, to resend under the same
	// ID if nothing changed, so the destination can tell a repeat.
	last struct {
		id   string
		seqs []int64
	}
}

func newDestination(name string) *destination {
	return &destination{name: name, more: make(chan struct{}, 1), wake: make(chan struct{}, 1)}
}

// backingOff tells whether the last attempt failed. Only then does a
// sign of life matter: a destination taking transactions needs no wake.
func (d *destination) backingOff() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.fails > 0
}

func (d *destination) poke()  { signal(d.more) }
func (d *destination) reset() { signal(d.wake) }

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// addEphemeral holds a typing or presence EDU, unless the destination is
// backing off: by the time it is back, the EDU means nothing.
func (d *destination) addEphemeral(it storage.FederationQueueItem) {
	d.mu.Lock()
	if d.fails > 0 {
		d.mu.Unlock()
		return
	}
	if len(d.eph) == maxEphemeralEDUs {
		d.eph = d.eph[1:]
	}
	d.eph = append(d.eph, it)
	d.mu.Unlock()
	d.poke()
}

func (d *destination) takeEphemeral(max int) []storage.FederationQueueItem {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := min(max, len(d.eph))
	out := d.eph[:n:n]
	d.eph = d.eph[n:]
	return out
}

// run delivers d's queue until the sender stops: whenever something is
// queued, and after a failure once the backoff has passed or the server
// showed it is up.
func (s *Sender) run(d *destination) {
	defer s.wg.Done()
	for {
		if err := s.flush(d); err != nil {
			if s.ctx.Err() != nil {
				return
			}
			d.mu.Lock()
			d.fails++
			fails := d.fails
			d.eph = nil // typing and presence are stale by the retry
			d.mu.Unlock()
			delay := s.cfg.Backoff(fails)
			s.log.Info("federation sender: destination unreachable", "destination", d.name, "failures", fails, "retry_in", delay, "err", err)
			timer := time.NewTimer(delay)
			up := s.waitRetry(d, timer.C)
			timer.Stop()
			if !up {
				return
			}
			continue
		}
		select {
		case <-s.ctx.Done():
			return
		case <-d.more:
		case <-d.wake:
		}
	}
}

// waitRetry waits out a backoff; new items do not cut it short, a sign of
// life from the server does. It reports false when the sender stops.
func (s *Sender) waitRetry(d *destination, retry <-chan time.Time) bool {
	select {
	case <-s.ctx.Done():
		return false
	case <-retry:
	case <-d.wake:
		s.log.Info("federation sender: destination is back, retrying", "destination", d.name)
	}
	return true
}

// flush sends transactions until d's queue is empty. An error means the
// destination did not take the last one.
func (s *Sender) flush(d *destination) error {
	for s.ctx.Err() == nil {
		items, err := s.cfg.Store.PendingFederation(s.ctx, d.name, MaxTxnPDUs, MaxTxnEDUs)
		if err != nil {
			return fmt.Errorf("reading queue: %w", err)
		}
		eph := d.takeEphemeral(MaxTxnEDUs - countEDUs(items))
		if len(items) == 0 && len(eph) == 0 {
			return s.flushAnnounce(d)
		}
		err = s.deliver(d, items, eph)
		d.announced() // any transaction tells d we are up
		if err != nil {
			return err
		}
		d.mu.Lock()
		d.fails = 0
		d.mu.Unlock()
	}
	return nil
}

// flushAnnounce sends the empty transaction d is owed, if any.
func (s *Sender) flushAnnounce(d *destination) error {
	if !d.owesAnnounce() {
		return nil
	}
	err := s.sendEmpty(d)
	d.announced()
	if err == nil {
		d.mu.Lock()
		d.fails = 0
		d.mu.Unlock()
	}
	return err
}

func countEDUs(items []storage.FederationQueueItem) int {
	n := 0
	for _, it := range items {
		if it.IsEDU() {
			n++
		}
	}
	return n
}

// deliver sends one transaction of items and eph and removes items from
// the queue once the destination took it.
func (s *Sender) deliver(d *destination, items, eph []storage.FederationQueueItem) error {
	txn, err := s.buildTransaction(d.name, items, eph)
	if err != nil {
		return err
	}
	seqs := make([]int64, len(items))
	for i, it := range items {
		seqs[i] = it.Seq
	}
	if len(txn.PDUs) > 0 || len(txn.EDUs) > 0 {
		if err := s.put(d, txn, seqs, len(eph) > 0); err != nil {
			return err
		}
	}
	if err := s.cfg.Store.DeleteFederation(context.WithoutCancel(s.ctx), d.name, seqs); err != nil {
		return fmt.Errorf("dequeueing delivered items: %w", err)
	}
	return nil
}

// put sends the transaction; any answer but 2xx is a failure to retry.
func (s *Sender) put(d *destination, txn transaction, seqs []int64, hasEphemeral bool) error {
	txnID := s.txnID(d, seqs, hasEphemeral)
	resp, err := s.cfg.Client.Do(s.ctx, d.name, http.MethodPut, "/_matrix/federation/v1/send/"+url.PathEscape(txnID), txn)
	if err == nil {
		err = resp.Err()
	}
	if err != nil {
		d.mu.Lock()
		d.last.id, d.last.seqs = txnID, seqs
		d.mu.Unlock()
		return err
	}
	s.logRefusals(d.name, txnID, resp.Body)
	return nil
}

// txnID names a new transaction, or reuses the ID of the one that failed
// last when this one carries exactly the same stored items (and nothing
// ephemeral), so that a destination which did process it after all
// answers the repeat without processing it twice.
func (s *Sender) txnID(d *destination, seqs []int64, hasEphemeral bool) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !hasEphemeral && d.last.id != "" && slices.Equal(d.last.seqs, seqs) {
		return d.last.id
	}
	s.mu.Lock()
	s.txnCount++
	n := s.txnCount
	s.mu.Unlock()
	sum := sha256.Sum256([]byte(d.name + "\x00" + s.txnNonce + "\x00" + strconv.FormatUint(n, 10)))
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

// logRefusals logs (IDs and reasons only) the PDUs the destination refused.
func (s *Sender) logRefusals(dest, txnID string, body []byte) {
	gjson.GetBytes(body, "pdus").ForEach(func(id, result gjson.Result) bool {
		if e := result.Get("error"); e.Exists() {
			s.log.Info("federation sender: destination refused a PDU", "destination", dest, "txn_id", txnID, "event_id", id.String(), "reason", e.String())
		}
		return true
	})
}

// buildTransaction turns queued items into a transaction body, leaving out
// what the policy denies for dest and events no longer stored.
func (s *Sender) buildTransaction(dest string, items, eph []storage.FederationQueueItem) (transaction, error) {
	txn := transaction{Origin: s.cfg.ServerName, OriginServerTS: s.cfg.Now().UnixMilli(), PDUs: []json.RawMessage{}}
	pdus, err := s.loadPDUs(items)
	if err != nil {
		return txn, err
	}
	allowed := map[string]bool{} // room ID → PDUs may go to dest
	for _, it := range items {
		if it.IsEDU() {
			continue
		}
		ev, ok := pdus[it.EventID]
		if !ok {
			s.log.Warn("federation sender: queued event is not stored; skipped", "destination", dest, "event_id", it.EventID)
			continue
		}
		ok, known := allowed[it.RoomID]
		if !known {
			ok = s.allowed(dest, policy.Input{Action: policy.ActionSendPDU, Server: dest, RoomID: it.RoomID}, it.EventID)
			allowed[it.RoomID] = ok
		}
		if ok {
			txn.PDUs = append(txn.PDUs, ev)
		}
	}
	for _, it := range append(slices.Clip(items), eph...) {
		if it.IsEDU() && s.allowed(dest, policy.Input{Action: policy.ActionSendEDU, Server: dest, RoomID: it.RoomID, EventType: it.EDUType}, "") {
			txn.EDUs = append(txn.EDUs, edu{Type: it.EDUType, Content: it.EDUContent})
		}
	}
	return txn, nil
}

// allowed asks the policy; a denial is logged without any content.
func (s *Sender) allowed(dest string, in policy.Input, eventID string) bool {
	ok, reasons := policy.Allowed(s.ctx, s.cfg.Policy, in)
	if !ok {
		s.log.Info("federation sender: policy denied sending", "destination", dest, "action", in.Action,
			"room", in.RoomID, "event_id", eventID, "edu_type", in.EventType, "reasons", reasons)
	}
	return ok
}

// loadPDUs reads the queued events in their federation form.
func (s *Sender) loadPDUs(items []storage.FederationQueueItem) (map[string]json.RawMessage, error) {
	var ids []string
	for _, it := range items {
		if !it.IsEDU() {
			ids = append(ids, it.EventID)
		}
	}
	out := make(map[string]json.RawMessage, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	infos, err := s.cfg.Rooms.Events(s.ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("reading queued events: %w", err)
	}
	for _, info := range infos {
		raw, err := federationForm(info)
		if err != nil {
			s.log.Warn("federation sender: unusable stored event", "event_id", info.Event.EventID(), "err", err)
			continue
		}
		out[info.Event.EventID()] = raw
	}
	return out, nil
}

// federationForm is a stored event as it goes to other servers: without
// "unsigned", which holds what is private to this server (the sending
// device's transaction ID) and which the receiver recomputes anyway.
func federationForm(info roomserver.EventInfo) (json.RawMessage, error) {
	raw := info.Event.JSON()
	if !gjson.GetBytes(raw, "unsigned").Exists() {
		return raw, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, err
	}
	delete(obj, "unsigned")
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep the event's strings as they were
	if err := enc.Encode(obj); err != nil {
		return nil, err
	}
	return bytes.TrimSpace(buf.Bytes()), nil
}
