package federation

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/policy"
	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/storage"
	"github.com/warbler-im/warbler/storage/postgres"
	"github.com/warbler-im/warbler/storage/postgres/pgtest"
	"github.com/warbler-im/warbler/storage/sqlite"
)

const (
	readServer   = "a.example"
	remoteServer = "b.example"
	strangerName = "c.example"
	readAlice    = "@alice:" + readServer
)

// readEnv is a homeserver (readServer) with one room created by alice,
// serving the reading endpoints in process. Requests carry an origin as
// the Authenticator would have verified it.
type readEnv struct {
	t         *testing.T
	db        storage.Database
	rs        *roomserver.RoomServer
	rt        *Routes
	router    http.Handler
	roomID    string
	remoteKey ed25519.PrivateKey
	localKey  ed25519.PrivateKey
	decider   *recordingDecider
}

func newReadEnv(t *testing.T, configure func(*Routes)) *readEnv {
	t.Helper()
	db := openReadTestDB(t)
	_, priv, _ := ed25519.GenerateKey(nil)
	rs, err := roomserver.New(db, roomserver.Config{ServerName: readServer, KeyID: "ed25519:a", PrivateKey: priv})
	if err != nil {
		t.Fatal(err)
	}
	created, err := rs.CreateRoom(t.Context(), roomserver.CreateRoomOptions{Creator: readAlice, RoomVersion: "10", Preset: roomserver.PresetPublicChat})
	if err != nil {
		t.Fatal(err)
	}
	_, remoteKey, _ := ed25519.GenerateKey(nil)
	decider := &recordingDecider{allow: true}
	rt := &Routes{
		Keys: &KeyServer{ServerName: readServer}, Policy: decider,
		Reads: &ReadSources{Rooms: rs, Events: db, Profiles: db},
	}
	if configure != nil {
		configure(rt)
	}
	return &readEnv{t: t, db: db, rs: rs, rt: rt, router: rt.authenticatedRouter(), roomID: created.RoomID, remoteKey: remoteKey, localKey: priv, decider: decider}
}

// onPostgres switches openReadTestDB to PostgreSQL (TestReadsOnPostgres).
var onPostgres bool

// openReadTestDB opens a fresh database: SQLite, or PostgreSQL while
// onPostgres is set.
func openReadTestDB(t *testing.T) storage.Database {
	t.Helper()
	var db storage.Database
	var err error
	if onPostgres {
		db, err = postgres.Open(t.Context(), pgtest.FreshDatabase(t), postgres.Options{})
	} else {
		db, err = sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "fed.db"))
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// recordingDecider answers allow (or not) and remembers what it was asked.
type recordingDecider struct {
	mu     sync.Mutex
	allow  bool
	inputs []policy.Input
}

func (d *recordingDecider) Decide(_ context.Context, in policy.Input) (policy.Decision, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.inputs = append(d.inputs, in)
	if d.allow {
		return policy.Decision{Allow: true}, nil
	}
	return policy.Decision{Reasons: []string{"test denies"}}, nil
}

func (d *recordingDecider) last() policy.Input {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.inputs) == 0 {
		return policy.Input{}
	}
	return d.inputs[len(d.inputs)-1]
}

// send has readAlice send an event to the room and returns its ID.
func (e *readEnv) send(typ string, stateKey *string, content any) string {
	e.t.Helper()
	raw, _ := json.Marshal(content)
	id, err := e.rs.SendEvent(e.t.Context(), roomserver.EventRequest{RoomID: e.roomID, Sender: readAlice, Type: typ, StateKey: stateKey, Content: raw})
	if err != nil {
		e.t.Fatalf("send %s: %v", typ, err)
	}
	return id
}

func (e *readEnv) message(body string) string {
	return e.send("m.room.message", nil, map[string]string{"msgtype": "m.text", "body": body})
}

func (e *readEnv) state(typ string, content any) string {
	empty := ""
	return e.send(typ, &empty, content)
}

// remoteJoin persists a join of userID (on remoteServer), built and signed
// as that server would, on the room's current extremities.
func (e *readEnv) remoteJoin(userID string) string {
	e.t.Helper()
	res := e.remoteEvent(userID, "m.room.member", &userID, map[string]string{"membership": "join"}, "m.room.join_rules")
	if res.Rejected != "" {
		e.t.Fatalf("remote join rejected: %s", res.Rejected)
	}
	return res.EventID
}

// remoteEvent persists an event of sender (on remoteServer) with the
// create and power levels events, plus authTypes, as auth events.
func (e *readEnv) remoteEvent(sender, typ string, stateKey *string, content any, authTypes ...string) roomserver.InputResult {
	e.t.Helper()
	ctx := e.t.Context()
	prevs, err := e.rs.ForwardExtremities(ctx, e.roomID)
	if err != nil {
		e.t.Fatal(err)
	}
	infos, _ := e.rs.Events(ctx, prevs)
	depth := int64(0)
	for _, in := range infos {
		depth = max(depth, in.Event.Depth())
	}
	var auth []string
	for _, at := range append([]string{"m.room.create", "m.room.power_levels"}, authTypes...) {
		ev, err := e.rs.CurrentStateEvent(ctx, e.roomID, at, "")
		if err != nil {
			e.t.Fatal(err)
		}
		auth = append(auth, ev.EventID())
	}
	fields := map[string]any{
		"room_id": e.roomID, "sender": sender, "type": typ, "content": content,
		"prev_events": prevs, "auth_events": auth,
		"depth": depth + 1, "origin_server_ts": 1_760_000_000_000, "origin": remoteServer,
	}
	if stateKey != nil {
		fields["state_key"] = *stateKey
	}
	raw, _ := json.Marshal(fields)
	ver, _ := e.rs.RoomVersion(ctx, e.roomID)
	raw, err = mxcore.AddContentHash(raw)
	if err == nil {
		raw, err = mxcore.SignEvent(raw, remoteServer, "ed25519:b", e.remoteKey, ver)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	res, err := e.rs.Persist(ctx, e.roomID, []roomserver.InputEvent{{JSON: raw, Origin: roomserver.OriginRemote, SignaturesVerified: true}})
	if err != nil || res[0].Err != nil {
		e.t.Fatalf("remote event: %v %+v", err, res)
	}
	return res[0]
}

type readResponse struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r readResponse) errcode() string { s, _ := r.body["errcode"].(string); return s }

// do sends a request from origin to the authenticated router.
func (e *readEnv) do(origin, method, path string, body any) readResponse {
	e.t.Helper()
	var reader *bytes.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		reader = bytes.NewReader(raw)
	} else {
		reader = bytes.NewReader(nil)
	}
	req := httptest.NewRequestWithContext(WithOrigin(e.t.Context(), origin), method, path, reader)
	rec := httptest.NewRecorder()
	e.router.ServeHTTP(rec, req)
	out := readResponse{status: rec.Code, header: rec.Header(), raw: rec.Body.Bytes()}
	_ = json.Unmarshal(out.raw, &out.body)
	return out
}

func (e *readEnv) get(origin, path string) readResponse {
	return e.do(origin, http.MethodGet, path, nil)
}

// pduBodies reads the "body" of each event's content in a list of PDUs
// ("" for an event without one, as a redacted message).
func pduBodies(t *testing.T, list any) []string {
	t.Helper()
	items, _ := list.([]any)
	out := make([]string, 0, len(items))
	for _, it := range items {
		ev, _ := it.(map[string]any)
		content, _ := ev["content"].(map[string]any)
		s, _ := content["body"].(string)
		out = append(out, s)
	}
	return out
}
