package federation

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/policy"
	"github.com/warbler-im/warbler/roomserver"
)

// linkedPair is a fedPair whose servers talk over TLS on loopback: us.test
// serves its federation routes, @bob:us.test is in the room, and
// remote.test's Sender delivers its events to us.test's /send.
type linkedPair struct {
	*fedPair
	sender  *Sender
	arrived *arrivals
}

// arrivals hears which events us.test stored, and when.
type arrivals struct {
	mu   sync.Mutex
	ids  []string
	at   map[string]time.Time
	wake chan struct{}
}

func (a *arrivals) OnNewEvents(_ string, events []roomserver.PersistedEvent) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, ev := range events {
		if ev.Kind == roomserver.KindLive {
			a.ids = append(a.ids, ev.Event.EventID())
			a.at[ev.Event.EventID()] = time.Now()
		}
	}
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

func (a *arrivals) waitFor(tb testing.TB, id string) time.Time {
	deadline := time.After(10 * time.Second)
	for {
		a.mu.Lock()
		at, ok := a.at[id]
		a.mu.Unlock()
		if ok {
			return at
		}
		select {
		case <-a.wake:
		case <-time.After(5 * time.Millisecond):
		case <-deadline:
			tb.Fatalf("event %s never arrived", id)
		}
	}
}

func newLinkedPair(tb testing.TB) *linkedPair { return newLinkedPairOn(tb, "sqlite") }

// newLinkedPairOn is newLinkedPair with every database on backend.
func newLinkedPairOn(tb testing.TB, backend string) *linkedPair {
	p := newFedPairOn(tb, backend)
	ctx := context.Background()
	// bob of us.test joins: built and stored on us.test, passed to
	// remote.test as its join would be.
	bob := "@bob:us.test"
	join, err := p.us.BuildEvent(ctx, joinRequest(p.roomID, bob))
	if err != nil {
		tb.Fatal(err)
	}
	for _, rs := range []*roomserver.RoomServer{p.us, p.remote} {
		origin := roomserver.OriginRemote
		if rs == p.us {
			origin = roomserver.OriginLocal
		}
		res, err := rs.Persist(ctx, p.roomID, []roomserver.InputEvent{{PDU: join, Origin: origin, SignaturesVerified: true}})
		if err != nil || res[0].Err != nil || res[0].Rejected != "" {
			tb.Fatalf("bob's join: %v %+v", err, res)
		}
	}
	n := newFakeNet(tb)
	n.host("us.test", "203.0.113.20")
	r := chi.NewRouter()
	r.NotFound(mxhttp.NotFound)
	(&Routes{Keys: p.usKS, Auth: p.auth, Inbound: p.inbound}).MountOwnLimits(r)
	n.serve("203.0.113.20:8448", []string{"us.test"}, r)
	client := n.client(tb, func(c *ClientConfig) {
		c.ServerName, c.KeyID, c.PrivateKey, c.Now = "remote.test", p.remoteKS.KeyID, p.remoteKS.Private, nil
	})
	db := openTestDBOn(tb, backend, "remote-queue.db")
	sender, err := NewSender(SenderConfig{ServerName: "remote.test", Store: db, Rooms: p.remote, Client: client, Policy: policy.AllowAll{},
		Backoff: func(int) time.Duration { return 10 * time.Millisecond }})
	if err != nil {
		tb.Fatal(err)
	}
	p.remote.AddListener(sender)
	if err := sender.Start(ctx); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(sender.Stop)
	lp := &linkedPair{fedPair: p, sender: sender, arrived: &arrivals{at: map[string]time.Time{}, wake: make(chan struct{}, 1)}}
	p.us.AddListener(lp.arrived)
	return lp
}

// TestSenderDeliversToInbound: events remote.test's users send reach
// us.test through the sender and /send, all of them, in order.
func TestSenderDeliversToInbound(t *testing.T) {
	p := newLinkedPair(t)
	msgs := p.say(60)
	var want []string
	for _, ev := range msgs {
		want = append(want, ev.EventID())
	}
	p.arrived.waitFor(t, want[len(want)-1])
	p.arrived.mu.Lock()
	got := slices.Clone(p.arrived.ids)
	p.arrived.mu.Unlock()
	if !slices.Equal(got, want) {
		t.Errorf("us.test stored %d events, want the 60 messages in order", len(got))
	}
	if ext, _ := p.us.ForwardExtremities(t.Context(), p.roomID); len(ext) != 1 || ext[0] != want[len(want)-1] {
		t.Errorf("us.test's forward extremities %v", ext)
	}
}

// BenchmarkFederationDelivery measures, in one process over loopback TLS,
// the time from a message being sent on remote.test to it being stored
// on us.test (sender queue, signed PUT /send, checks, persist), one
// message at a time, and reports the p50 and p99, on SQLite and (with
// WARBLER_TEST_POSTGRES) PostgreSQL.
func BenchmarkFederationDelivery(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) { benchmarkDelivery(b, backend) })
	}
}

func benchmarkDelivery(b *testing.B, backend string) {
	p := newLinkedPairOn(b, backend)
	p.arrived.waitFor(b, p.say(1)[0].EventID()) // warm: keys, connections
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		sent := time.Now()
		ev := p.say(1)[0]
		lat = append(lat, p.arrived.waitFor(b, ev.EventID()).Sub(sent))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
