package federation

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/policy"
	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/storage"
)

// inProcessRequester sends requests to in-process servers' authenticated
// routers, as origin.
type inProcessRequester struct {
	origin  string
	servers map[string]http.Handler
	paths   []string
}

func (r *inProcessRequester) Do(ctx context.Context, dest, method, path string, body any) (*Response, error) {
	h := r.servers[dest]
	if h == nil {
		return nil, fmt.Errorf("dial %s: connection refused", dest)
	}
	r.paths = append(r.paths, path)
	// Like a real request, this one shares no context values (the
	// caller's routing state) with the request that caused it.
	fresh, cancel := context.WithCancel(context.Background())
	defer cancel()
	defer context.AfterFunc(ctx, cancel)()
	req := httptest.NewRequestWithContext(WithOrigin(fresh, r.origin), method, strings.TrimPrefix(path, federationPrefix), bytes.NewReader(nil))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return &Response{Destination: dest, Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}, nil
}

// fixedEventKeys verifies event signatures with fixed keys.
type fixedEventKeys map[string]ed25519.PublicKey

func (k fixedEventKeys) VerifyJSONFrom(context.Context, string, []byte, int64) error { return nil }

func (k fixedEventKeys) VerifyEventFrom(_ context.Context, server string, event []byte, ver mxcore.RoomVersion) error {
	pub, ok := k[server]
	if !ok {
		return fmt.Errorf("no key for %s", server)
	}
	keyID := "ed25519:a"
	if server == remoteServer {
		keyID = "ed25519:b"
	}
	return mxcore.VerifyEventSignature(event, server, keyID, pub, ver)
}

// joinedRemote is server b.example after joining e's room: it holds the
// state before its join as outliers and the join as its first timeline
// event, as a send_join leaves it.
type joinedRemote struct {
	db       storage.Database
	rs       *roomserver.RoomServer
	backfill *Backfiller
	client   *inProcessRequester
}

func newJoinedRemote(t *testing.T, e *readEnv, join string) *joinedRemote {
	t.Helper()
	ctx := t.Context()
	db := openReadTestDB(t)
	_, priv, _ := ed25519.GenerateKey(nil)
	rs, err := roomserver.New(db, roomserver.Config{ServerName: remoteServer, KeyID: "ed25519:x", PrivateKey: priv})
	if err != nil {
		t.Fatal(err)
	}
	state, err := e.rs.StateAt(ctx, join, roomserver.StateBeforeEvent)
	if err != nil {
		t.Fatal(err)
	}
	var stateIDs []string
	for _, s := range state {
		stateIDs = append(stateIDs, s.EventID)
	}
	chain, err := e.rs.AuthChain(ctx, append(slices.Clone(stateIDs), join), 1000)
	if err != nil {
		t.Fatal(err)
	}
	infos, _ := e.rs.Events(ctx, stateIDs)
	var outliers []roomserver.InputEvent
	for _, ev := range append(chain, pdusOf(infos)...) {
		outliers = append(outliers, roomserver.InputEvent{PDU: ev, Origin: roomserver.OriginRemote, SignaturesVerified: true, Kind: roomserver.KindOutlier})
	}
	slices.SortStableFunc(outliers, func(a, b roomserver.InputEvent) int { return int(a.PDU.Depth() - b.PDU.Depth()) })
	mustPersist(t, rs, e.roomID, outliers)
	joinInfo, _ := e.rs.Events(ctx, []string{join})
	mustPersist(t, rs, e.roomID, []roomserver.InputEvent{{PDU: joinInfo[0].Event, Origin: roomserver.OriginRemote, SignaturesVerified: true, StateBefore: stateIDs}})
	client := &inProcessRequester{origin: remoteServer, servers: map[string]http.Handler{readServer: e.router}}
	keys := fixedEventKeys{readServer: e.localKey.Public().(ed25519.PublicKey), remoteServer: e.remoteKey.Public().(ed25519.PublicKey)}
	return &joinedRemote{db: db, rs: rs, client: client,
		backfill: &Backfiller{ServerName: remoteServer, Client: client, Keys: keys, Rooms: rs, Timeline: db}}
}

func pdusOf(infos []roomserver.EventInfo) []*mxcore.PDU {
	out := make([]*mxcore.PDU, len(infos))
	for i, in := range infos {
		out[i] = in.Event
	}
	return out
}

func mustPersist(t *testing.T, rs *roomserver.RoomServer, roomID string, in []roomserver.InputEvent) {
	t.Helper()
	res, err := rs.Persist(t.Context(), roomID, in)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil || r.Rejected != "" {
			t.Fatalf("persist %s: %v %s", r.EventID, r.Err, r.Rejected)
		}
	}
}

// timelineBodies lists the message bodies of the room's timeline on db,
// newest first, and the number of events in it.
func timelineBodies(t *testing.T, db storage.Database, roomID string) ([]string, int) {
	t.Helper()
	evs, err := db.EventsBetween(t.Context(), roomID, storage.TopoMax, storage.TopoMin, 100, true)
	if err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for _, ev := range evs {
		if ev.Type == "m.room.message" {
			bodies = append(bodies, gjson.GetBytes(ev.JSON, "content.body").Str)
		}
	}
	return bodies, len(evs)
}

func TestBackfillFetchesHistoryBeforeTheJoin(t *testing.T) {
	e := newReadEnv(t, nil)
	for _, b := range []string{"h1", "h2", "h3"} {
		e.message(b)
	}
	join := e.remoteJoin("@bob:" + remoteServer)
	b := newJoinedRemote(t, e, join)
	if bodies, n := timelineBodies(t, b.db, e.roomID); len(bodies) != 0 || n != 1 {
		t.Fatalf("before backfill: %v, %d events", bodies, n)
	}

	n, err := b.backfill.Backfill(t.Context(), e.roomID, 2)
	if err != nil || n != 2 {
		t.Fatalf("first backfill stored %d: %v", n, err)
	}
	if bodies, _ := timelineBodies(t, b.db, e.roomID); !slices.Equal(bodies, []string{"h3", "h2"}) {
		t.Fatalf("after the first backfill: %v", bodies)
	}
	n, err = b.backfill.Backfill(t.Context(), e.roomID, 50)
	if err != nil || n == 0 {
		t.Fatalf("second backfill stored %d: %v", n, err)
	}
	bodies, total := timelineBodies(t, b.db, e.roomID)
	if !slices.Equal(bodies, []string{"h3", "h2", "h1"}) {
		t.Fatalf("after the second backfill: %v", bodies)
	}
	// Everything back to the create event is here now: no more requests.
	asked := len(b.client.paths)
	if n, err := b.backfill.Backfill(t.Context(), e.roomID, 50); n != 0 || err != nil || len(b.client.paths) != asked {
		t.Fatalf("backfill at the room's beginning: %d %v, %d requests", n, err, len(b.client.paths)-asked)
	}
	aTotal, _ := e.db.EventsBetween(t.Context(), e.roomID, storage.TopoMax, storage.TopoMin, 100, true)
	if total != len(aTotal) {
		t.Fatalf("b has %d timeline events, a has %d", total, len(aTotal))
	}
}

func TestBackfillDropsForgedEvents(t *testing.T) {
	e := newReadEnv(t, nil)
	e.message("h1")
	join := e.remoteJoin("@bob:" + remoteServer)
	b := newJoinedRemote(t, e, join)
	_, otherKey, _ := ed25519.GenerateKey(nil)
	b.backfill.Keys = fixedEventKeys{readServer: otherKey.Public().(ed25519.PublicKey), remoteServer: e.remoteKey.Public().(ed25519.PublicKey)}
	n, err := b.backfill.Backfill(t.Context(), e.roomID, 10)
	if n != 0 {
		t.Fatalf("stored %d events signed with a key that is not a.example's (%v)", n, err)
	}
	if bodies, _ := timelineBodies(t, b.db, e.roomID); len(bodies) != 0 {
		t.Fatalf("timeline %v", bodies)
	}
}

// TestBackfillPausesAfterFailures: when no server answers, paging at the
// room's start does not ask again until the pause is over.
func TestBackfillPausesAfterFailures(t *testing.T) {
	e := newReadEnv(t, nil)
	e.message("h1")
	join := e.remoteJoin("@bob:" + remoteServer)
	b := newJoinedRemote(t, e, join)
	b.client.servers[readServer] = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	})
	clock := newFakeClock()
	b.backfill.Now = clock.Now
	for i, step := range []struct {
		advance  time.Duration
		requests int
	}{{0, 1}, {time.Second, 1}, {backfillRetryPause, 2}} {
		clock.Advance(step.advance)
		if n, err := b.backfill.Backfill(t.Context(), e.roomID, 10); n != 0 || (err == nil) != (i == 1) {
			t.Fatalf("call %d: %d %v", i, n, err)
		}
		if len(b.client.paths) != step.requests {
			t.Fatalf("after call %d: %d requests, want %d", i, len(b.client.paths), step.requests)
		}
	}
}

// TestOutlierStateIsServed: b.example holds the room's state from before
// its join only as outliers; it still serves those events to a server in
// the room (which may need them to authorise or fill a gap), but has no
// state at them to serve.
func TestOutlierStateIsServed(t *testing.T) {
	e := newReadEnv(t, nil)
	join := e.remoteJoin("@bob:" + remoteServer)
	b := newJoinedRemote(t, e, join)
	onB := (&Routes{Keys: &KeyServer{ServerName: remoteServer}, Policy: policy.AllowAll{}, Reads: &ReadSources{Rooms: b.rs, Events: b.db}}).authenticatedRouter()
	pl, err := b.rs.CurrentStateEvent(t.Context(), e.roomID, "m.room.power_levels", "")
	if err != nil {
		t.Fatal(err)
	}
	if infos, _ := b.rs.Events(t.Context(), []string{pl.EventID()}); len(infos) != 1 || !infos[0].Outlier {
		t.Fatalf("power levels on b.example: %+v", infos)
	}
	ask := func(origin, path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		onB.ServeHTTP(rec, httptest.NewRequestWithContext(WithOrigin(t.Context(), origin), "GET", path, nil))
		return rec
	}
	if got := ask(readServer, "/v1/event/"+escPath(pl.EventID())); got.Code != 200 || !bytes.Contains(got.Body.Bytes(), []byte(`"m.room.power_levels"`)) {
		t.Fatalf("outlier state event: %d %s", got.Code, got.Body)
	}
	if got := ask(strangerName, "/v1/event/"+escPath(pl.EventID())); got.Code != 403 {
		t.Fatalf("outlier to a server not in the room: %d %s", got.Code, got.Body)
	}
	if got := ask(readServer, "/v1/state_ids/"+escPath(e.roomID)+"?event_id="+url.QueryEscape(pl.EventID())); got.Code != 404 {
		t.Fatalf("state at an outlier: %d %s", got.Code, got.Body)
	}
}
