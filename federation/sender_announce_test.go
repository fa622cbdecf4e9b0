package federation

import (
	"context"
	"crypto/ed25519"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/warbler-im/warbler/storage"
)

// peerStore is a queue store whose rooms are shared with peers.
type peerStore struct {
	storage.FederationQueueStore
	peers []string
}

func (p peerStore) PeerServers(_ context.Context, server string, limit int) ([]string, error) {
	if server != "us.test" {
		return nil, nil
	}
	return p.peers[:min(limit, len(p.peers))], nil
}

// TestSenderAnnouncesItsStart: at its start the sender sends each server
// it shares a room with one transaction: an empty one (no PDUs, no EDUs,
// signed, so the peer's Authenticator hears of us) where nothing is
// queued, and only the queue where something is; a peer that cannot be
// reached holds up no one; without Announce nothing is sent.
func TestSenderAnnouncesItsStart(t *testing.T) {
	for _, tc := range []struct {
		name       string
		announce   bool
		wantEmpty  int // empty transactions idle.test receives
		wantQueued int // transactions busy.test receives
	}{
		{"announcing", true, 1, 2},
		{"not announcing", false, 0, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idle, busy := &txnSink{}, &txnSink{}
			n := newFakeNet(t)
			for name, sink := range map[string]*txnSink{"idle.test": idle, "busy.test": busy} {
				mux := http.NewServeMux()
				mux.Handle("PUT /_matrix/federation/v1/send/{txn}", sink)
				ip := map[string]string{"idle.test": "203.0.113.8", "busy.test": "203.0.113.9"}[name]
				n.host(name, ip)
				n.serve(ip+":8448", []string{name}, (&Authenticator{ServerName: name, Keys: staticKeys{"us.test " + exampleKeyID: specKey(t).Public().(ed25519.PublicKey)}}).Middleware(mux))
			}
			db := openSenderDB(t, filepath.Join(t.TempDir(), "s.db"))
			defer db.Close()
			rooms := newFakeRooms()
			ev := rooms.message(t, "!room:us.test", 0)
			err := db.EnqueueFederation(t.Context(), []storage.FederationQueueItem{{Destination: "busy.test", EventID: ev.EventID(), RoomID: ev.RoomID()}})
			if err != nil {
				t.Fatal(err)
			}
			store := peerStore{FederationQueueStore: db, peers: []string{"busy.test", "down.test", "idle.test"}}
			s := newTestSender(t, n, store, rooms, func(c *SenderConfig) { c.Announce = tc.announce })
			if err := s.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			defer s.Stop()
			waitFor(t, "the queued PDU", func() bool { pdus, _ := busy.received(); return len(pdus) == 1 })
			if tc.announce {
				waitFor(t, "the announcement", func() bool { idle.mu.Lock(); defer idle.mu.Unlock(); return len(idle.bodies) == 1 })
			}
			// Queueing later is no start: it announces nothing more.
			later := rooms.message(t, "!room:us.test", 1)
			if err := s.SendPDUs(t.Context(), later.RoomID(), []string{later.EventID()}, []string{"busy.test"}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the later PDU", func() bool { pdus, _ := busy.received(); return len(pdus) == 2 })
			time.Sleep(100 * time.Millisecond) // nothing more may come
			idle.mu.Lock()
			if len(idle.bodies) != tc.wantEmpty {
				t.Errorf("idle.test received %d transactions, want %d", len(idle.bodies), tc.wantEmpty)
			}
			for _, b := range idle.bodies {
				if gjson.Get(b, "pdus").Raw != "[]" || gjson.Get(b, "edus").Exists() || gjson.Get(b, "origin").Str != "us.test" {
					t.Errorf("announcement is not an empty transaction from us.test: %s", b)
				}
			}
			idle.mu.Unlock()
			busy.mu.Lock()
			if len(busy.txnIDs) != tc.wantQueued {
				t.Errorf("busy.test received %d transactions, want %d (its queue and the later PDU, no announcement)", len(busy.txnIDs), tc.wantQueued)
			}
			busy.mu.Unlock()
		})
	}
}

// TestAnnounceWaitsForNoFailedDestination: a destination that already
// failed since the start counts as announced to at once.
func TestAnnounceWaitsForNoFailedDestination(t *testing.T) {
	d := newDestination("x.test")
	d.fails = 1
	select {
	case <-d.requestAnnounce():
	default:
		t.Fatal("announcement to a failed destination is waited for")
	}
	if d.owesAnnounce() {
		t.Error("a failed destination owes an announcement")
	}
	d.fails = 0
	done := d.requestAnnounce()
	if !d.owesAnnounce() || done != d.requestAnnounce() {
		t.Fatal("a second request does not share the first one's announcement")
	}
	d.announced()
	select {
	case <-done:
	default:
		t.Fatal("announced does not settle the announcement")
	}
	d.announced() // settling twice is harmless
	if d.owesAnnounce() {
		t.Error("still owes an announcement after it was sent")
	}
}
