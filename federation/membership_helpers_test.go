package federation

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/tidwall/gjson"

	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/policy"
	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/storage"
	"github.com/warbler-im/warbler/storage/sqlite"
)

// memberWorld is a set of in-process servers, each with its own SQLite
// database, roomserver and Membership, whose federation requests reach
// each other's routers directly with the origin set (request signing is
// tested on its own).
type memberWorld struct {
	t       testing.TB
	servers map[string]*memberServer
	// tamperSendJoin, when set, rewrites send_join answers on the way.
	tamperSendJoin func(body []byte) []byte
	// v1Only lists servers that answer every /v2/ endpoint as unknown,
	// like a server from before them.
	v1Only map[string]bool
}

type memberServer struct {
	name   string
	keyID  string
	priv   ed25519.PrivateKey
	db     storage.Database
	rooms  *roomserver.RoomServer
	m      *Membership
	router http.Handler
	// deny lists the servers this server's policy refuses.
	deny map[string]bool
	// requests counts the requests this server received, by path.
	requests map[string]int
	// decisions records what the policy was asked.
	decisions []policy.Input
}

func newMemberWorld(t testing.TB, names ...string) *memberWorld {
	w := &memberWorld{t: t, servers: map[string]*memberServer{}}
	for _, name := range names {
		w.servers[name] = w.newServer(name)
	}
	return w
}

func (w *memberWorld) newServer(name string) *memberServer {
	t := w.t
	pub, priv, _ := ed25519.GenerateKey(nil)
	_ = pub
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s := &memberServer{name: name, keyID: "ed25519:" + strings.SplitN(name, ".", 2)[0][:3], priv: priv, db: db, deny: map[string]bool{}, requests: map[string]int{}}
	s.rooms, err = roomserver.New(db, roomserver.Config{ServerName: name, KeyID: s.keyID, PrivateKey: priv})
	if err != nil {
		t.Fatal(err)
	}
	s.m = &Membership{
		ServerName: name, KeyID: s.keyID, PrivateKey: priv, Rooms: s.rooms,
		Keys: worldKeys{w}, Client: worldClient{w: w, from: name}, Policy: s, Store: db,
	}
	inner := chi.NewRouter()
	s.m.mount(inner)
	top := chi.NewRouter()
	top.Mount("/_matrix/federation", inner)
	s.router = top
	return s
}

// Decide implements policy.Decider: everything but the denied servers.
func (s *memberServer) Decide(_ context.Context, in policy.Input) (policy.Decision, error) {
	s.decisions = append(s.decisions, in)
	if s.deny[in.Server] {
		return policy.Decision{Reasons: []string{in.Server + " is denied"}}, nil
	}
	return policy.Decision{Allow: true}, nil
}

// worldKeys verifies signatures with the world's servers' keys.
type worldKeys struct{ w *memberWorld }

func (k worldKeys) key(server string) (*memberServer, error) {
	s := k.w.servers[server]
	if s == nil {
		return nil, fmt.Errorf("no keys for %s", server)
	}
	return s, nil
}

func (k worldKeys) VerifyJSONFrom(_ context.Context, server string, obj []byte, _ int64) error {
	s, err := k.key(server)
	if err != nil {
		return err
	}
	return mxcore.VerifyJSON(obj, server, s.keyID, s.priv.Public().(ed25519.PublicKey))
}

func (k worldKeys) VerifyEventFrom(_ context.Context, server string, event []byte, ver mxcore.RoomVersion) error {
	s, err := k.key(server)
	if err != nil {
		return err
	}
	return mxcore.VerifyEventSignature(event, server, s.keyID, s.priv.Public().(ed25519.PublicKey), ver)
}

// worldClient delivers a server's requests to another's router.
type worldClient struct {
	w    *memberWorld
	from string
}

func (c worldClient) Do(ctx context.Context, dest, method, path string, body any) (*Response, error) {
	s := c.w.servers[dest]
	if s == nil {
		return nil, fmt.Errorf("%s cannot be reached", dest)
	}
	content, err := encodeBody(body)
	if err != nil {
		return nil, err
	}
	rec := c.w.serve(s, c.from, method, path, content)
	answer := rec.Body.Bytes()
	if c.w.tamperSendJoin != nil && strings.Contains(path, "/send_join/") {
		answer = c.w.tamperSendJoin(answer)
	}
	return &Response{Destination: dest, Status: rec.Code, Header: rec.Header(), Body: answer}, nil
}

// serve runs one request on s as coming from origin.
func (w *memberWorld) serve(s *memberServer, origin, method, path string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequestWithContext(WithOrigin(w.t.Context(), origin), method, path, bytes.NewReader(body))
	s.requests[req.URL.Path]++
	rec := httptest.NewRecorder()
	if w.v1Only[s.name] && strings.HasPrefix(req.URL.Path, "/_matrix/federation/v2/") {
		mxhttp.NotFound(rec, req)
		return rec
	}
	s.router.ServeHTTP(rec, req)
	return rec
}

// call is serve for a test, returning the status and JSON body.
func (w *memberWorld) call(server, origin, method, path string, body any) (int, gjson.Result) {
	w.t.Helper()
	content, err := encodeBody(body)
	if err != nil {
		w.t.Fatal(err)
	}
	rec := w.serve(w.servers[server], origin, method, path, content)
	raw, _ := io.ReadAll(rec.Body)
	return rec.Code, gjson.ParseBytes(raw)
}

// createRoom makes a room on s with the given preset and extra state.
func (s *memberServer) createRoom(t testing.TB, creator, preset string, state ...roomserver.InitialStateEvent) string {
	t.Helper()
	name := "room of " + creator
	res, err := s.rooms.CreateRoom(t.Context(), roomserver.CreateRoomOptions{Creator: creator, Preset: preset, Name: &name, InitialState: state})
	if err != nil {
		t.Fatal(err)
	}
	return res.RoomID
}

// membership is userID's membership of the room on s ("" if none).
func (s *memberServer) membership(t *testing.T, roomID, userID string) string {
	t.Helper()
	m, _, err := s.rooms.Membership(t.Context(), roomID, userID)
	if err != nil {
		t.Fatalf("%s: membership of %s in %s: %v", s.name, userID, roomID, err)
	}
	return m
}

// wantError checks a status and errcode.
func wantMemberError(t *testing.T, status int, body gjson.Result, wantStatus int, wantCode string) {
	t.Helper()
	if status != wantStatus || body.Get("errcode").Str != wantCode {
		t.Errorf("got %d %s (%s), want %d %s", status, body.Get("errcode").Str, body.Get("error").Str, wantStatus, wantCode)
	}
}

func memberContentJSON(membership string) []byte {
	raw, _ := json.Marshal(map[string]string{"membership": membership})
	return raw
}
