package clientapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/warbler-im/warbler/internal/secrets"
	"github.com/warbler-im/warbler/storage"
	"github.com/warbler-im/warbler/storage/sqlite"
)

const testServer = "example.org"

// testClock is a clock tests move by hand; it is safe for concurrent use.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testEnv is an API on a fresh SQLite database, served by a router.
type testEnv struct {
	t      *testing.T
	api    *API
	db     storage.Database
	clock  *testClock
	router http.Handler
}

// newTestEnv builds the API; configure may adjust its options first.
func newTestEnv(t *testing.T, configure func(a *API)) *testEnv {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clock := &testClock{t: time.UnixMilli(1_760_000_000_000)}
	a := &API{ServerName: testServer, Store: db, Now: clock.now, Registration: RegistrationOptions{Enabled: true}}
	if configure != nil {
		configure(a)
	}
	r := chi.NewRouter()
	a.Mount(r)
	t.Cleanup(a.Close) // before the database closes: it may write to it
	return &testEnv{t: t, api: a, db: db, clock: clock, router: r}
}

type testResponse struct {
	status int
	header http.Header
	body   map[string]any
}

func (r testResponse) errcode() string { s, _ := r.body["errcode"].(string); return s }
func (r testResponse) str(key string) string {
	s, _ := r.body[key].(string)
	return s
}

// do sends a request; body is marshalled as JSON unless it is nil.
func (e *testEnv) do(method, path string, body any, token string) testResponse {
	e.t.Helper()
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			e.t.Fatal(err)
		}
	}
	req := httptest.NewRequest(method, path, bytes.NewReader(raw))
	req.RemoteAddr = "192.0.2.7:40000"
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	e.router.ServeHTTP(rec, req)
	out := testResponse{status: rec.Code, header: rec.Header()}
	if err := json.Unmarshal(rec.Body.Bytes(), &out.body); err != nil {
		e.t.Fatalf("%s %s: body is not a JSON object: %s", method, path, rec.Body)
	}
	return out
}

// want fails unless the response has the status and errcode ("" for none).
func (r testResponse) want(t *testing.T, status int, errcode string) testResponse {
	t.Helper()
	if r.status != status || r.errcode() != errcode {
		t.Fatalf("got %d %q, want %d %q: %v", r.status, r.errcode(), status, errcode, r.body)
	}
	return r
}

// createUser stores an account with a password directly.
func (e *testEnv) createUser(localpart, password string, guest bool) string {
	e.t.Helper()
	hash, err := secrets.HashPassword(password)
	if err != nil {
		e.t.Fatal(err)
	}
	userID := "@" + localpart + ":" + testServer
	err = e.db.CreateAccount(e.t.Context(), storage.NewAccount{
		User:    storage.User{UserID: userID, PasswordHash: hash, IsGuest: guest, CreatedTS: 1},
		Profile: storage.Profile{DisplayName: localpart},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return userID
}

// login logs in with a password and returns the response body.
func (e *testEnv) login(localpart, password string, extra map[string]any) testResponse {
	e.t.Helper()
	body := map[string]any{"type": "m.login.password", "identifier": map[string]any{"type": "m.id.user", "user": localpart}, "password": password}
	for k, v := range extra {
		body[k] = v
	}
	return e.do("POST", "/_matrix/client/v3/login", body, "").want(e.t, http.StatusOK, "")
}

// passwordAuth is an m.login.password auth dict.
func passwordAuth(session, user, password string) map[string]any {
	return map[string]any{
		"type": "m.login.password", "session": session, "password": password,
		"identifier": map[string]any{"type": "m.id.user", "user": user},
	}
}

// authedRequest is a request carrying token's session, as RequireAuth
// would pass it to a handler.
func authedRequest(t *testing.T, e *testEnv, token string) *http.Request {
	t.Helper()
	r := httptest.NewRequest("POST", "/", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	sess, err := e.api.authenticate(r)
	if err != nil {
		t.Fatal(err)
	}
	return r.WithContext(context.WithValue(r.Context(), sessionKey{}, sess))
}

func mustJSON(t *testing.T, v any) json.RawMessage {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// createToken stores a registration token with the given uses (0:
// unlimited).
func createToken(t *testing.T, e *testEnv, token string, uses int64) {
	t.Helper()
	rt := storage.RegistrationToken{Token: token, CreatedTS: 1}
	if uses > 0 {
		rt.UsesAllowed = &uses
	}
	if err := e.db.CreateRegistrationToken(t.Context(), rt); err != nil {
		t.Fatal(err)
	}
}

func wantPending(t *testing.T, e *testEnv, token string, pending int64) {
	t.Helper()
	got, err := e.db.GetRegistrationToken(t.Context(), token)
	if err != nil {
		t.Fatal(err)
	}
	if got.Pending != pending {
		t.Errorf("token %s: pending %d, want %d", token, got.Pending, pending)
	}
}
