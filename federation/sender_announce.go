package federation

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// Announcing a start. Other servers back off from a server that stopped
// answering, for up to BackoffCap, and would only catch it up at their next
// retry. What ends their backoff at once is a verified request from it
// (their Authenticator's Seen hook, Sender.Wake here), so at its start the
// sender sends every server it shares a room with a transaction: the
// queued items where it has some for that server, else an empty one
// (pdus: [], which every server takes and answers 200). A transaction is
// the request the spec gives servers for talking to each other at any
// time, carries no room data (so it needs no policy decision when empty),
// and goes through the destination's own goroutine, one at a time with
// its other transactions.

const (
	// maxAnnouncePeers bounds the servers told of a start.
	maxAnnouncePeers = 10000
	// announceWorkers bounds the announcements under way at once.
	announceWorkers = 8
	// announceWait bounds how long one announcement is waited for before
	// its worker moves on (the destination goroutine still sends it).
	announceWait = time.Minute
	// DefaultAnnounceJitter spreads the announcements of servers that
	// start together (after a shared outage) over this long.
	DefaultAnnounceJitter = 3 * time.Second
)

// announce tells every peer server this one is up (except those in
// queued, which the start sends their queue), with at most
// announceWorkers transactions under way, after a random delay of up to
// the jitter. It returns when all were sent (or given up on) or the sender
// stops.
func (s *Sender) announce(queued []string) {
	defer s.wg.Done()
	if s.cfg.AnnounceJitter > 0 {
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(rand.N(s.cfg.AnnounceJitter)):
		}
	}
	peers, err := s.cfg.Store.PeerServers(s.ctx, s.cfg.ServerName, maxAnnouncePeers)
	if err != nil {
		s.log.Warn("federation sender: listing servers to announce the start to", "err", err)
		return
	}
	// A server with items queued is sent them at the start anyway.
	peers = slices.DeleteFunc(peers, func(name string) bool { _, found := slices.BinarySearch(queued, name); return found })
	s.log.Info("federation sender: announcing the start", "servers", len(peers))
	work := make(chan string)
	var wg sync.WaitGroup
	for range min(announceWorkers, len(peers)) {
		wg.Go(func() {
			for name := range work {
				s.announceTo(s.destination(name))
			}
		})
	}
	for _, name := range peers {
		select {
		case work <- name:
		case <-s.ctx.Done():
		}
	}
	close(work)
	wg.Wait()
}

// announceTo asks d's goroutine for a transaction, empty if nothing is
// queued, and waits until it was attempted.
func (s *Sender) announceTo(d *destination) {
	done := d.requestAnnounce()
	d.poke()
	timer := time.NewTimer(announceWait)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
	case <-s.ctx.Done():
	}
}

// requestAnnounce marks d as owing an announcement; the channel closes
// once a transaction went out (or failed to). A destination that already
// failed since the start was tried: it is closed at once.
func (d *destination) requestAnnounce() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fails > 0 {
		done := make(chan struct{})
		close(done)
		return done
	}
	if d.announce == nil {
		d.announce = make(chan struct{})
	}
	return d.announce
}

// announced settles an announcement owed, if any: a transaction was tried.
func (d *destination) announced() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.announce != nil {
		close(d.announce)
		d.announce = nil
	}
}

func (d *destination) owesAnnounce() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.announce != nil
}

// sendEmpty sends d a transaction without PDUs or EDUs.
func (s *Sender) sendEmpty(d *destination) error {
	txn := transaction{Origin: s.cfg.ServerName, OriginServerTS: s.cfg.Now().UnixMilli(), PDUs: []json.RawMessage{}}
	return s.put(d, txn, nil, true)
}
