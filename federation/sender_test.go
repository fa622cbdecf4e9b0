package federation

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/policy"
	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/storage"
	"github.com/warbler-im/warbler/storage/sqlite"
)

// fakeRooms stands in for the room server: events by ID and joined servers.
type fakeRooms struct {
	mu     sync.Mutex
	events map[string]*mxcore.PDU
	joined map[string][]string
}

func newFakeRooms() *fakeRooms {
	return &fakeRooms{events: map[string]*mxcore.PDU{}, joined: map[string][]string{}}
}

func (f *fakeRooms) JoinedServers(_ context.Context, roomID string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.joined[roomID], nil
}

func (f *fakeRooms) Events(_ context.Context, ids []string) ([]roomserver.EventInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []roomserver.EventInfo
	for _, id := range ids {
		if ev := f.events[id]; ev != nil {
			out = append(out, roomserver.EventInfo{Event: ev})
		}
	}
	return out, nil
}

// message makes a signed message event of @alice:us.test in roomID, with
// an unsigned section that must not leave the server.
func (f *fakeRooms) message(t testing.TB, roomID string, n int) *mxcore.PDU {
	t.Helper()
	ver, _ := mxcore.GetRoomVersion("10")
	raw := fmt.Sprintf(`{"type":"m.room.message","sender":"@alice:us.test","room_id":%q,"content":{"body":"message %d <b>"},`+
		`"depth":%d,"origin_server_ts":%d,"prev_events":[],"auth_events":[],"unsigned":{"transaction_id":"secret"}}`,
		roomID, n, n+1, 1_760_000_000_000+int64(n))
	hashed, err := mxcore.AddContentHash([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	signed, err := mxcore.SignEvent(hashed, "us.test", exampleKeyID, specKey(t), ver)
	if err != nil {
		t.Fatal(err)
	}
	pdu, err := mxcore.NewPDU(signed, ver)
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.events[pdu.EventID()] = pdu
	f.mu.Unlock()
	return pdu
}

// txnSink is a destination server: it verifies each transaction's
// signature and records what it took; while failing it answers 503.
type txnSink struct {
	mu       sync.Mutex
	failing  bool
	attempts int
	txnIDs   []string
	pdus     []string // event IDs, in arrival order
	edus     []string // EDU types
	bodies   []string
	got      chan struct{}
}

func (s *txnSink) setFailing(v bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failing = v
}

func (s *txnSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts++
	if s.failing {
		http.Error(w, `{"errcode":"M_UNKNOWN","error":"down"}`, http.StatusServiceUnavailable)
		return
	}
	var body struct {
		PDUs []json.RawMessage `json:"pdus"`
		EDUs []edu             `json:"edus"`
	}
	raw, _ := readAll(r)
	if err := json.Unmarshal(raw, &body); err != nil || len(body.PDUs) > MaxTxnPDUs || len(body.EDUs) > MaxTxnEDUs {
		http.Error(w, `{"errcode":"M_BAD_JSON","error":"bad"}`, http.StatusBadRequest)
		return
	}
	ver, _ := mxcore.GetRoomVersion("10")
	for _, p := range body.PDUs {
		id, _ := mxcore.EventIDFor(p, ver)
		s.pdus = append(s.pdus, id)
	}
	for _, e := range body.EDUs {
		s.edus = append(s.edus, e.Type)
	}
	s.txnIDs = append(s.txnIDs, r.PathValue("txn"))
	s.bodies = append(s.bodies, string(raw))
	w.Write([]byte(`{"pdus":{}}`))
	if s.got != nil {
		select {
		case s.got <- struct{}{}:
		default:
		}
	}
}

func (s *txnSink) received() (pdus, edus []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.pdus), slices.Clone(s.edus)
}

// senderNet is a test network with one destination, dest.test, whose
// handler verifies requests signed by us.test.
func senderNet(t *testing.T, sink *txnSink) *fakeNet {
	n := newFakeNet(t)
	keys := staticKeys{"us.test " + exampleKeyID: specKey(t).Public().(ed25519.PublicKey)}
	mux := http.NewServeMux()
	mux.Handle("PUT /_matrix/federation/v1/send/{txn}", sink)
	n.host("dest.test", "203.0.113.7")
	n.serve("203.0.113.7:8448", []string{"dest.test"}, (&Authenticator{ServerName: "dest.test", Keys: keys}).Middleware(mux))
	return n
}

func openSenderDB(t *testing.T, path string) storage.Database {
	t.Helper()
	db, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func newTestSender(t *testing.T, n *fakeNet, db storage.FederationQueueStore, rooms SenderRooms, change ...func(*SenderConfig)) *Sender {
	t.Helper()
	cfg := SenderConfig{
		ServerName: "us.test", Store: db, Rooms: rooms, Client: n.client(t), Policy: policy.AllowAll{},
		Backoff: func(int) time.Duration { return 20 * time.Millisecond },
	}
	for _, c := range change {
		c(&cfg)
	}
	s, err := NewSender(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// waitFor polls cond (the sender works in the background) for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSenderRetriesUntilTheDestinationRecovers: a destination that fails
// at first receives, once it recovers, every queued PDU in order, in
// transactions of at most 50, plus the stored EDUs; the typing EDU sent
// while it was down is dropped; the private unsigned data never leaves.
func TestSenderRetriesUntilTheDestinationRecovers(t *testing.T) {
	sink := &txnSink{failing: true}
	n := senderNet(t, sink)
	db := openSenderDB(t, filepath.Join(t.TempDir(), "s.db"))
	defer db.Close()
	rooms := newFakeRooms()
	s := newTestSender(t, n, db, rooms)
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()

	var want []string
	for i := range 120 {
		ev := rooms.message(t, "!room:us.test", i)
		want = append(want, ev.EventID())
		if err := s.SendPDUs(t.Context(), "!room:us.test", []string{ev.EventID()}, []string{"dest.test", "us.test"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SendEDU(t.Context(), []string{"dest.test"}, "m.direct_to_device", map[string]any{"message_id": "m1"}, ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a failed attempt", func() bool { sink.mu.Lock(); defer sink.mu.Unlock(); return sink.attempts >= 2 })
	if err := s.SendEDU(t.Context(), []string{"dest.test"}, "m.typing", map[string]any{"room_id": "!room:us.test"}, "!room:us.test"); err != nil {
		t.Fatal(err)
	}
	sink.setFailing(false)
	waitFor(t, "every PDU", func() bool { pdus, _ := sink.received(); return len(pdus) >= len(want) })

	pdus, edus := sink.received()
	if !slices.Equal(pdus, want) {
		t.Errorf("destination received %d PDUs out of order or with extras", len(pdus))
	}
	if !slices.Equal(edus, []string{"m.direct_to_device"}) {
		t.Errorf("EDUs received = %v, want only the to-device one (typing is dropped while down)", edus)
	}
	sink.mu.Lock()
	for _, b := range sink.bodies {
		if gjson.Get(b, "pdus.#.unsigned").String() != "[]" || gjson.Get(b, "origin").Str != "us.test" {
			t.Errorf("transaction carries unsigned data or a wrong origin: %.200s", b)
		}
	}
	txns := len(sink.txnIDs)
	sink.mu.Unlock()
	if txns != 3 {
		t.Errorf("%d transactions for 120 PDUs, want 3 (50+50+20)", txns)
	}
	waitFor(t, "the queue to empty", func() bool {
		left, _ := db.PendingFederation(t.Context(), "dest.test", 50, 100)
		return len(left) == 0
	})
}

// TestSenderQueueSurvivesRestart: what a stopped sender could not deliver
// is delivered by the next one on the same database as it starts, whatever
// the backoff was before the stop, and only that: the destination is
// caught up from where it stopped, nothing is replayed.
func TestSenderQueueSurvivesRestart(t *testing.T) {
	sink := &txnSink{}
	n := senderNet(t, sink)
	path := filepath.Join(t.TempDir(), "s.db")
	rooms := newFakeRooms()
	var want []string
	for i := range 8 {
		want = append(want, rooms.message(t, "!room:us.test", i).EventID())
	}

	db := openSenderDB(t, path)
	// An hour's backoff: the failure before the stop must not delay the
	// next run, whose timers start afresh.
	first := newTestSender(t, n, db, rooms, func(c *SenderConfig) { c.Backoff = func(int) time.Duration { return time.Hour } })
	if err := first.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := first.SendPDUs(t.Context(), "!room:us.test", want[:3], []string{"dest.test"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first delivery", func() bool { pdus, _ := sink.received(); return len(pdus) == 3 })
	waitFor(t, "the first delivery to be dequeued", func() bool {
		left, _ := db.PendingFederation(t.Context(), "dest.test", 50, 100)
		return len(left) == 0
	})
	sink.setFailing(true)
	if err := first.SendPDUs(t.Context(), "!room:us.test", want[3:], []string{"dest.test"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a failed attempt", func() bool { sink.mu.Lock(); defer sink.mu.Unlock(); return sink.attempts >= 2 })
	first.Stop()
	db.Close()

	sink.setFailing(false)
	db = openSenderDB(t, path)
	defer db.Close()
	second := newTestSender(t, n, db, rooms)
	if err := second.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer second.Stop()
	waitFor(t, "delivery after the restart", func() bool { pdus, _ := sink.received(); return len(pdus) >= len(want) })
	time.Sleep(50 * time.Millisecond) // nothing more may come
	if pdus, _ := sink.received(); !slices.Equal(pdus, want) {
		t.Errorf("the destination received %v, want %v once each, in order", pdus, want)
	}
}

// TestSenderWakeEndsBackoff: with an hour's backoff, a request from the
// destination (Wake) makes the sender retry at once.
func TestSenderWakeEndsBackoff(t *testing.T) {
	sink := &txnSink{failing: true}
	n := senderNet(t, sink)
	db := openSenderDB(t, filepath.Join(t.TempDir(), "s.db"))
	defer db.Close()
	rooms := newFakeRooms()
	s := newTestSender(t, n, db, rooms, func(c *SenderConfig) { c.Backoff = func(int) time.Duration { return time.Hour } })
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	ev := rooms.message(t, "!room:us.test", 0)
	if err := s.SendPDUs(t.Context(), ev.RoomID(), []string{ev.EventID()}, []string{"dest.test"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a failed attempt", func() bool {
		s.mu.Lock()
		d := s.dests["dest.test"]
		s.mu.Unlock()
		return d != nil && d.backingOff()
	})
	sink.setFailing(false)
	s.Wake("elsewhere.test") // another server's sign of life changes nothing
	s.Wake("dest.test")
	waitFor(t, "delivery after Wake", func() bool { pdus, _ := sink.received(); return len(pdus) == 1 })
}

// denyRoom is a policy that keeps one room's PDUs and every typing EDU
// from dest.test.
type denyRoom struct{ room string }

func (d denyRoom) Decide(_ context.Context, in policy.Input) (policy.Decision, error) {
	deny := in.Server == "dest.test" && (in.RoomID == d.room && in.Action == policy.ActionSendPDU || in.EventType == "m.receipt")
	return policy.Decision{Allow: !deny, Reasons: []string{"test"}}, nil
}

// TestSenderAsksThePolicy: denied PDUs and EDUs are not sent (and not
// retried); the rest of the same queue is.
func TestSenderAsksThePolicy(t *testing.T) {
	sink := &txnSink{got: make(chan struct{}, 1)}
	n := senderNet(t, sink)
	db := openSenderDB(t, filepath.Join(t.TempDir(), "s.db"))
	defer db.Close()
	rooms := newFakeRooms()
	s := newTestSender(t, n, db, rooms, func(c *SenderConfig) { c.Policy = denyRoom{room: "!secret:us.test"} })
	secret := rooms.message(t, "!secret:us.test", 0)
	open := rooms.message(t, "!open:us.test", 1)
	ctx := t.Context()
	for _, ev := range []*mxcore.PDU{secret, open} {
		if err := s.SendPDUs(ctx, ev.RoomID(), []string{ev.EventID()}, []string{"dest.test"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SendEDU(ctx, []string{"dest.test"}, "m.receipt", map[string]any{}, "!open:us.test"); err != nil {
		t.Fatal(err)
	}
	if err := s.SendEDU(ctx, []string{"dest.test"}, "m.device_list_update", map[string]any{}, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil { // queued before the start: sent now
		t.Fatal(err)
	}
	defer s.Stop()
	waitFor(t, "the queue to empty", func() bool {
		left, _ := db.PendingFederation(ctx, "dest.test", 50, 100)
		return len(left) == 0
	})
	pdus, edus := sink.received()
	if !slices.Equal(pdus, []string{open.EventID()}) || !slices.Equal(edus, []string{"m.device_list_update"}) {
		t.Errorf("sent PDUs %v and EDUs %v; want only the open room's event and the device list update", pdus, edus)
	}
}

// TestSenderListener: of the events the room server reports, only live,
// accepted ones created here are queued, for every joined server but
// this one (and for a kick, the kicked user's server too); a room's EDU
// goes to its joined servers.
func TestSenderListener(t *testing.T) {
	db := openSenderDB(t, filepath.Join(t.TempDir(), "s.db"))
	defer db.Close()
	rooms := newFakeRooms()
	rooms.joined["!room:us.test"] = []string{"a.test", "b.test", "us.test"}
	s := newTestSender(t, newFakeNet(t), db, rooms, func(c *SenderConfig) {
		c.Backoff = func(int) time.Duration { return time.Hour }
	})
	mk := func(n int, change func(*roomserver.PersistedEvent)) roomserver.PersistedEvent {
		pe := roomserver.PersistedEvent{Event: rooms.message(t, "!room:us.test", n), Origin: roomserver.OriginLocal, Kind: roomserver.KindLive}
		if change != nil {
			change(&pe)
		}
		return pe
	}
	live := mk(0, nil)
	kick := kickEvent(t, rooms)
	events := []roomserver.PersistedEvent{
		mk(1, func(p *roomserver.PersistedEvent) { p.Origin = roomserver.OriginRemote }),
		live,
		mk(2, func(p *roomserver.PersistedEvent) { p.Rejected = "no" }),
		mk(3, func(p *roomserver.PersistedEvent) { p.SoftFailed = true }),
		mk(4, func(p *roomserver.PersistedEvent) { p.Kind = roomserver.KindOutlier }),
		mk(5, func(p *roomserver.PersistedEvent) { p.Kind = roomserver.KindBackfilled }),
		mk(6, func(p *roomserver.PersistedEvent) { p.Existed = true }),
		{Event: kick, Origin: roomserver.OriginLocal, Kind: roomserver.KindLive},
	}
	s.OnNewEvents("!room:us.test", events)
	if err := s.SendRoomEDU(t.Context(), "!room:us.test", "m.receipt", map[string]any{}); err != nil {
		t.Fatal(err)
	}
	// Started by hand, without the queues of earlier runs; the
	// destinations do not resolve, so the queue keeps what the intake put
	// there.
	s.ctx, s.cancel = context.WithCancel(t.Context())
	s.wg.Add(1)
	go s.runIntake()
	defer s.Stop()
	queued := func(dest string) []string {
		items, _ := db.PendingFederation(t.Context(), dest, 50, 100)
		var ids []string
		for _, it := range items {
			ids = append(ids, it.EventID+it.EDUType)
		}
		return ids
	}
	waitFor(t, "the intake", func() bool { return len(queued("a.test")) == 3 && len(queued("gone.test")) == 1 })
	for dest, want := range map[string][]string{
		"a.test":    {"m.receipt", live.Event.EventID(), kick.EventID()},
		"b.test":    {"m.receipt", live.Event.EventID(), kick.EventID()},
		"gone.test": {kick.EventID()}, "us.test": nil,
	} {
		if got := queued(dest); !slices.Equal(got, want) {
			t.Errorf("queued for %s: %v, want %v", dest, got, want)
		}
	}
}

// kickEvent is @alice:us.test kicking @bob:gone.test.
func kickEvent(t *testing.T, rooms *fakeRooms) *mxcore.PDU {
	ver, _ := mxcore.GetRoomVersion("10")
	raw := `{"type":"m.room.member","state_key":"@bob:gone.test","sender":"@alice:us.test","room_id":"!room:us.test",` +
		`"content":{"membership":"leave"},"depth":9,"origin_server_ts":1760000000009,"prev_events":[],"auth_events":[]}`
	hashed, _ := mxcore.AddContentHash([]byte(raw))
	signed, _ := mxcore.SignEvent(hashed, "us.test", exampleKeyID, specKey(t), ver)
	pdu, err := mxcore.NewPDU(signed, ver)
	if err != nil {
		t.Fatal(err)
	}
	rooms.mu.Lock()
	rooms.events[pdu.EventID()] = pdu
	rooms.mu.Unlock()
	return pdu
}

func readAll(r *http.Request) ([]byte, error) { return io.ReadAll(r.Body) }

// TestSenderForwardToRoom: an event accepted as the resident is queued
// for the room's joined servers but the one that made it and ourselves.
func TestSenderForwardToRoom(t *testing.T) {
	rooms := newFakeRooms()
	ev := rooms.message(t, "!room:us.test", 0)
	rooms.joined["!room:us.test"] = []string{"us.test", "origin.test", "b.test", "c.test"}
	db := openSenderDB(t, filepath.Join(t.TempDir(), "f.db"))
	defer db.Close()
	s := newTestSender(t, senderNet(t, &txnSink{}), db, rooms) // not started: the queue stays as queued
	if err := s.ForwardToRoom(t.Context(), "!room:us.test", ev.EventID(), "origin.test"); err != nil {
		t.Fatal(err)
	}
	for dest, want := range map[string]int{"b.test": 1, "c.test": 1, "origin.test": 0, "us.test": 0} {
		if got, _ := db.PendingFederation(t.Context(), dest, 50, 100); len(got) != want {
			t.Errorf("%s has %d queued, want %d", dest, len(got), want)
		}
	}
}

// TestSenderStopQueuesWhatItWasHanded: events the roomserver handed over
// just before the sender stopped (requests still finishing while the server
// shuts down) are queued before Stop returns, so the next run sends them.
func TestSenderStopQueuesWhatItWasHanded(t *testing.T) {
	db := openSenderDB(t, filepath.Join(t.TempDir(), "s.db"))
	defer db.Close()
	rooms := newFakeRooms()
	rooms.joined["!room:us.test"] = []string{"a.test", "us.test"}
	s := newTestSender(t, newFakeNet(t), db, rooms, func(c *SenderConfig) {
		c.Backoff = func(int) time.Duration { return time.Hour }
	})
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 20 {
		ev := rooms.message(t, "!room:us.test", i)
		want = append(want, ev.EventID())
		s.OnNewEvents("!room:us.test", []roomserver.PersistedEvent{{Event: ev, Origin: roomserver.OriginLocal, Kind: roomserver.KindLive}})
	}
	s.Stop()
	items, err := db.PendingFederation(context.Background(), "a.test", 50, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range items {
		got = append(got, it.EventID)
	}
	if !slices.Equal(got, want) {
		t.Errorf("queued after Stop: %d events, want all %d in order", len(got), len(want))
	}
}

// outboxStore is a queue store whose federation outbox holds ids, as a
// process that died between storing events and queueing them leaves it.
type outboxStore struct {
	storage.FederationQueueStore
	mu  sync.Mutex
	ids []string
}

func (o *outboxStore) FederationOutbox(_ context.Context, limit int) ([]string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.ids[:min(limit, len(o.ids))]), nil
}

func (o *outboxStore) QueueOutbound(ctx context.Context, items []storage.FederationQueueItem, outboxIDs []string) error {
	if err := o.FederationQueueStore.QueueOutbound(ctx, items, outboxIDs); err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ids = slices.DeleteFunc(o.ids, func(id string) bool { return slices.Contains(outboxIDs, id) })
	return nil
}

// TestSenderQueuesTheOutboxAtStart: events a crash left stored but
// unqueued are queued for the room's servers when the sender starts, in
// order, and leave the outbox; one that is gone or not ours leaves it
// without being sent.
func TestSenderQueuesTheOutboxAtStart(t *testing.T) {
	db := openSenderDB(t, filepath.Join(t.TempDir(), "s.db"))
	defer db.Close()
	rooms := newFakeRooms()
	rooms.joined["!room:us.test"] = []string{"a.test", "us.test"}
	first, second := rooms.message(t, "!room:us.test", 0), rooms.message(t, "!room:us.test", 1)
	store := &outboxStore{FederationQueueStore: db, ids: []string{first.EventID(), "$gone", second.EventID()}}
	s := newTestSender(t, newFakeNet(t), store, rooms, func(c *SenderConfig) {
		c.Backoff = func(int) time.Duration { return time.Hour }
	})
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	items, err := db.PendingFederation(t.Context(), "a.test", 50, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range items {
		got = append(got, it.EventID)
	}
	if want := []string{first.EventID(), second.EventID()}; !slices.Equal(got, want) {
		t.Errorf("queued at start: %v, want %v", got, want)
	}
	if left, _ := store.FederationOutbox(t.Context(), 10); len(left) != 0 {
		t.Errorf("outbox after the start: %v", left)
	}
}

// countingQueue counts the writes of the events' queue and outbox.
type countingQueue struct {
	storage.FederationQueueStore
	mu     sync.Mutex
	writes [][]string // the outbox IDs of each QueueOutbound
}

func (c *countingQueue) QueueOutbound(ctx context.Context, items []storage.FederationQueueItem, outboxIDs []string) error {
	c.mu.Lock()
	c.writes = append(c.writes, outboxIDs)
	c.mu.Unlock()
	return c.FederationQueueStore.QueueOutbound(ctx, items, outboxIDs)
}

// TestSenderWritesOnlyForOutboxOrDestinations: a local room's events
// (not Outbound: storage put no outbox row) cost the sender no write;
// an Outbound event's row is taken out even when its room has no other
// server by the time the sender looks.
func TestSenderWritesOnlyForOutboxOrDestinations(t *testing.T) {
	db := openSenderDB(t, filepath.Join(t.TempDir(), "s.db"))
	defer db.Close()
	rooms := newFakeRooms()
	rooms.joined["!room:us.test"] = []string{"us.test"}
	store := &countingQueue{FederationQueueStore: db}
	s := newTestSender(t, newFakeNet(t), store, rooms)
	local := roomserver.PersistedEvent{Event: rooms.message(t, "!room:us.test", 0), Origin: roomserver.OriginLocal, Kind: roomserver.KindLive}
	s.queueEvents(t.Context(), []roomserver.PersistedEvent{local})
	if len(store.writes) != 0 {
		t.Fatalf("a local room's event was written: %v", store.writes)
	}
	outbound := roomserver.PersistedEvent{Event: rooms.message(t, "!room:us.test", 1), Origin: roomserver.OriginLocal, Kind: roomserver.KindLive, Outbound: true}
	s.queueEvents(t.Context(), []roomserver.PersistedEvent{local, outbound})
	if want := [][]string{{outbound.Event.EventID()}}; len(store.writes) != 1 || !slices.Equal(store.writes[0], want[0]) {
		t.Errorf("writes %v, want one taking %v out of the outbox", store.writes, want[0])
	}
}
