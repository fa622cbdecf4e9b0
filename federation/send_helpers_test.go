package federation

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/storage"
	"github.com/warbler-im/warbler/storage/postgres"
	"github.com/warbler-im/warbler/storage/postgres/pgtest"
	"github.com/warbler-im/warbler/storage/sqlite"
)

// fedPair is two servers in one process: remote.test, whose room server
// makes the events, and us.test, whose /send receives them. Each has its
// own database and signing key; us.test learns remote.test's key through
// its real Keyring, from remote.test's key endpoint.
type fedPair struct {
	t        testing.TB
	remoteKS *KeyServer
	usKS     *KeyServer
	auth     *Authenticator
	remote   *roomserver.RoomServer
	created  *eventLog // every event remote.test stored, in order
	usDB     storage.Database
	us       *roomserver.RoomServer
	inbound  *Inbound
	router   chi.Router
	peer     *peerServer
	roomID   string
}

// eventLog is a room server listener that keeps every stored event.
type eventLog struct {
	mu     sync.Mutex
	events []*mxcore.PDU
}

func (l *eventLog) OnNewEvents(_ string, events []roomserver.PersistedEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ev := range events {
		l.events = append(l.events, ev.Event)
	}
}

func (l *eventLog) since(n int) []*mxcore.PDU {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*mxcore.PDU(nil), l.events[n:]...)
}

// openTestDBOn opens a fresh database on backend ("sqlite" or
// "postgres"; PostgreSQL skips t unless WARBLER_TEST_POSTGRES is set).
func openTestDBOn(t testing.TB, backend, name string) storage.Database {
	t.Helper()
	var db storage.Database
	var err error
	if backend == "postgres" {
		db, err = postgres.Open(context.Background(), pgtest.FreshDatabase(t), postgres.Options{})
	} else {
		db, err = sqlite.Open(context.Background(), filepath.Join(t.TempDir(), name))
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// newFedPair sets up both servers and a public room of remote.test that
// us.test already knows (its first events shipped over).
func newFedPair(t testing.TB) *fedPair { return newFedPairOn(t, "sqlite") }

// newFedPairOn is newFedPair with both servers' databases on backend.
func newFedPairOn(t testing.TB, backend string) *fedPair {
	t.Helper()
	ctx := context.Background()
	p := &fedPair{t: t, created: &eventLog{}}
	p.remoteKS = testKeyServer(t, "remote.test", time.Now)
	remote, err := roomserver.New(openTestDBOn(t, backend, "remote.db"), roomserver.Config{ServerName: "remote.test", KeyID: p.remoteKS.KeyID, PrivateKey: p.remoteKS.Private})
	if err != nil {
		t.Fatal(err)
	}
	p.remote = remote
	remote.AddListener(p.created)

	usKS := testKeyServer(t, "us.test", time.Now)
	p.usKS = usKS
	p.usDB = openTestDBOn(t, backend, "us.db")
	if p.us, err = roomserver.New(p.usDB, roomserver.Config{ServerName: "us.test", KeyID: usKS.KeyID, PrivateKey: usKS.Private}); err != nil {
		t.Fatal(err)
	}
	keys := newFakeFederation()
	keys.add(p.remoteKS, nil)
	keyring := NewKeyring(KeyringConfig{Self: usKS, Store: newMemStore(), Client: keys})
	p.peer = &peerServer{rs: remote, counts: map[string]int{}}
	p.inbound, err = NewInbound(InboundConfig{ServerName: "us.test", Store: p.usDB, Rooms: p.us, Keys: keyring, Client: p.peer})
	if err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	p.auth = &Authenticator{ServerName: "us.test", Keys: keyring}
	p.inbound.Mount(r, p.auth)
	p.router = r

	res, err := remote.CreateRoom(ctx, roomserver.CreateRoomOptions{Creator: "@alice:remote.test", Preset: "public_chat"})
	if err != nil {
		t.Fatal(err)
	}
	p.roomID = res.RoomID
	p.ship(p.created.since(0))
	return p
}

// ship stores remote.test's events on us.test directly, as a join would
// have brought them.
func (p *fedPair) ship(events []*mxcore.PDU) {
	p.t.Helper()
	for len(events) > 0 {
		n := min(len(events), 200)
		inputs := make([]roomserver.InputEvent, n)
		for i, ev := range events[:n] {
			inputs[i] = roomserver.InputEvent{JSON: ev.JSON(), Origin: roomserver.OriginRemote, SignaturesVerified: true}
		}
		res, err := p.us.Persist(context.Background(), events[0].RoomID(), inputs)
		if err != nil {
			p.t.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil || r.Rejected != "" {
				p.t.Fatalf("shipping %s: %v %s", r.EventID, r.Err, r.Rejected)
			}
		}
		events = events[n:]
	}
}

// say makes remote.test's alice send n messages; it returns them.
func (p *fedPair) say(n int) []*mxcore.PDU {
	p.t.Helper()
	return p.sayAs("@alice:remote.test", n)
}

func (p *fedPair) sayAs(sender string, n int) []*mxcore.PDU {
	p.t.Helper()
	before := len(p.created.since(0))
	for i := range n {
		_, err := p.remote.SendEvent(context.Background(), roomserver.EventRequest{
			RoomID: p.roomID, Sender: sender, Type: "m.room.message",
			Content: fmt.Appendf(nil, `{"msgtype":"m.text","body":"message %d"}`, i),
		})
		if err != nil {
			p.t.Fatal(err)
		}
	}
	return p.created.since(before)
}

// wire is the federation form of events, as a transaction carries them.
func wire(t testing.TB, events ...*mxcore.PDU) []json.RawMessage {
	t.Helper()
	out := make([]json.RawMessage, len(events))
	for i, ev := range events {
		raw, err := federationForm(roomserver.EventInfo{Event: ev})
		if err != nil {
			t.Fatal(err)
		}
		out[i] = raw
	}
	return out
}

// send PUTs a transaction to us.test signed by origin with key priv
// (remote.test's own key when priv is nil) and returns the answer.
func (p *fedPair) send(txnID string, body any, sign ...func(*signing)) *httptest.ResponseRecorder {
	p.t.Helper()
	s := signing{origin: "remote.test", keyID: p.remoteKS.KeyID, priv: p.remoteKS.Private}
	for _, f := range sign {
		f(&s)
	}
	content, err := json.Marshal(body)
	if err != nil {
		p.t.Fatal(err)
	}
	uri := "/_matrix/federation/v1/send/" + url.PathEscape(txnID)
	auth, err := SignRequest(http.MethodPut, uri, s.origin, "us.test", content, s.keyID, s.priv)
	if err != nil {
		p.t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPut, uri, bytes.NewReader(content))
	req.Header.Set("Authorization", auth.String())
	rec := httptest.NewRecorder()
	p.router.ServeHTTP(rec, req)
	return rec
}

// sendUnsigned PUTs body to uri without a valid signature, for requests
// that must be refused before the signature is looked at.
func (p *fedPair) sendUnsigned(uri string, body any) *httptest.ResponseRecorder {
	p.t.Helper()
	content, err := json.Marshal(body)
	if err != nil {
		p.t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPut, uri, bytes.NewReader(content))
	req.Header.Set("Authorization", `X-Matrix origin="remote.test",destination="us.test",key="ed25519:k1",sig="AAAA"`)
	rec := httptest.NewRecorder()
	p.router.ServeHTTP(rec, req)
	return rec
}

type signing struct {
	origin, keyID string
	priv          []byte
}

// txn is a transaction body from remote.test.
func txn(pdus []json.RawMessage, edus ...map[string]any) map[string]any {
	if pdus == nil {
		pdus = []json.RawMessage{}
	}
	body := map[string]any{"origin": "remote.test", "origin_server_ts": time.Now().UnixMilli(), "pdus": pdus}
	if len(edus) > 0 {
		body["edus"] = edus
	}
	return body
}

// stored returns us.test's copy of an event; nil if it has none.
func (p *fedPair) stored(id string) *roomserver.EventInfo {
	p.t.Helper()
	infos, err := p.us.Events(context.Background(), []string{id})
	if err != nil {
		p.t.Fatal(err)
	}
	if len(infos) == 0 {
		return nil
	}
	return &infos[0]
}

// peerServer answers, from remote.test's room server, the federation
// reads us.test makes to fill gaps, counting them.
type peerServer struct {
	rs     *roomserver.RoomServer
	mu     sync.Mutex
	counts map[string]int // "get_missing_events", "state_ids", "event"
}

func (s *peerServer) count(kind string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[kind]
}

func (s *peerServer) Do(ctx context.Context, dest, method, path string, body any) (*Response, error) {
	u, err := url.Parse(path)
	if err != nil || dest != "remote.test" {
		return nil, fmt.Errorf("no route to %s", dest)
	}
	parts := strings.Split(strings.TrimPrefix(u.Path, "/_matrix/federation/v1/"), "/")
	s.mu.Lock()
	s.counts[parts[0]]++
	s.mu.Unlock()
	var out any
	switch parts[0] {
	case "get_missing_events":
		out, err = s.missingEvents(ctx, parts[1], body)
	case "state_ids":
		out, err = s.stateIDs(ctx, u.Query().Get("event_id"))
	case "event":
		out, err = s.event(ctx, parts[1])
	default:
		return &Response{Destination: dest, Status: 404, Body: []byte(`{"errcode":"M_UNRECOGNIZED"}`)}, nil
	}
	if err != nil {
		return nil, err
	}
	raw, _ := json.Marshal(out)
	return &Response{Destination: dest, Status: 200, Body: raw}, nil
}

func (s *peerServer) missingEvents(ctx context.Context, roomID string, body any) (any, error) {
	var req struct {
		Earliest []string `json:"earliest_events"`
		Latest   []string `json:"latest_events"`
		Limit    int      `json:"limit"`
	}
	raw, _ := json.Marshal(body)
	if err := json.Unmarshal(raw, &req); err != nil {
		return nil, err
	}
	events, err := s.rs.MissingEvents(ctx, roomID, req.Earliest, req.Latest, req.Limit, 0)
	if err != nil {
		return nil, err
	}
	return map[string]any{"events": rawEvents(events)}, nil
}

func (s *peerServer) stateIDs(ctx context.Context, eventID string) (any, error) {
	state, err := s.rs.StateAt(ctx, eventID, roomserver.StateBeforeEvent)
	if err != nil {
		return nil, err
	}
	ids := []string{}
	for _, e := range state {
		ids = append(ids, e.EventID)
	}
	chain, err := s.rs.AuthChain(ctx, ids, 100000)
	if err != nil {
		return nil, err
	}
	chainIDs := []string{}
	for _, ev := range chain {
		chainIDs = append(chainIDs, ev.EventID())
	}
	return map[string]any{"pdu_ids": ids, "auth_chain_ids": chainIDs}, nil
}

func (s *peerServer) event(ctx context.Context, eventID string) (any, error) {
	infos, err := s.rs.Events(ctx, []string{eventID})
	if err != nil || len(infos) == 0 {
		return nil, fmt.Errorf("no event %s: %v", eventID, err)
	}
	return map[string]any{"origin": "remote.test", "origin_server_ts": 1, "pdus": rawEvents([]*mxcore.PDU{infos[0].Event})}, nil
}

func rawEvents(events []*mxcore.PDU) []json.RawMessage {
	out := []json.RawMessage{}
	for _, ev := range events {
		raw, _ := federationForm(roomserver.EventInfo{Event: ev})
		out = append(out, raw)
	}
	return out
}
