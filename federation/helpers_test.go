package federation

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/storage"
)

// memStore keeps a server's own and remote keys in memory.
type memStore struct {
	mu        sync.Mutex
	own       []storage.SigningKey
	remote    map[string]map[string]storage.RemoteServerKey
	responses map[string]storage.RemoteKeyResponse
	failWrite bool
}

func newMemStore() *memStore {
	return &memStore{remote: map[string]map[string]storage.RemoteServerKey{}, responses: map[string]storage.RemoteKeyResponse{}}
}

func (m *memStore) AddSigningKey(_ context.Context, k storage.SigningKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.own = append(m.own, k)
	return nil
}

func (m *memStore) SigningKeys(context.Context) ([]storage.SigningKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]storage.SigningKey(nil), m.own...), nil
}

func (m *memStore) ExpireSigningKey(_ context.Context, keyID string, ts int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.own {
		if m.own[i].KeyID == keyID {
			m.own[i].ExpiredTS = ts
			return nil
		}
	}
	return storage.ErrNotFound
}

func (m *memStore) StoreRemoteServerKeys(_ context.Context, resp storage.RemoteKeyResponse, keys []storage.RemoteServerKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failWrite {
		return errors.New("disk full")
	}
	for _, k := range keys {
		if m.remote[k.ServerName] == nil {
			m.remote[k.ServerName] = map[string]storage.RemoteServerKey{}
		}
		m.remote[k.ServerName][k.KeyID] = k
	}
	if len(resp.JSON) > 0 {
		m.responses[resp.ServerName] = resp
	}
	return nil
}

func (m *memStore) RemoteServerKeys(_ context.Context, server string) ([]storage.RemoteServerKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	keys := []storage.RemoteServerKey{}
	for _, k := range m.remote[server] {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].KeyID < keys[j].KeyID })
	return keys, nil
}

func (m *memStore) RemoteKeyResponse(_ context.Context, server string) (storage.RemoteKeyResponse, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	resp, ok := m.responses[server]
	if !ok {
		return storage.RemoteKeyResponse{}, storage.ErrNotFound
	}
	return resp, nil
}

// fakeClock is a settable clock shared by every fake server in a test.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.UnixMilli(1_760_000_000_000)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// testKeyServer is a KeyServer with a fresh key, valid for a day.
func testKeyServer(t testing.TB, name string, now func() time.Time) *KeyServer {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	store := newMemStore()
	ks := &KeyServer{ServerName: name, KeyID: "ed25519:k1", Private: priv, Validity: 24 * time.Hour, Store: store, Now: now}
	if err := PublishCurrentKey(context.Background(), store, ks.KeyID, pub, now()); err != nil {
		t.Fatal(err)
	}
	return ks
}

// rotate gives ks a new current key; the old one moves to old_verify_keys.
func rotate(t testing.TB, ks *KeyServer, newKeyID string) {
	t.Helper()
	pub, priv, _ := ed25519.GenerateKey(nil)
	if err := PublishCurrentKey(context.Background(), ks.Store, newKeyID, pub, ks.Now()); err != nil {
		t.Fatal(err)
	}
	ks.KeyID, ks.Private = newKeyID, priv
}

// fakeFederation routes key requests to in-process servers by name, in
// place of the network.
type fakeFederation struct {
	mu       sync.Mutex
	servers  map[string]http.Handler
	down     map[string]bool
	requests map[string]int // "server path" → count
}

func newFakeFederation() *fakeFederation {
	return &fakeFederation{servers: map[string]http.Handler{}, down: map[string]bool{}, requests: map[string]int{}}
}

// add serves the routes of a homeserver with ks and, if given, a notary.
func (f *fakeFederation) add(ks *KeyServer, notary *Notary) {
	r := chi.NewRouter()
	r.NotFound(mxhttp.NotFound)
	(&Routes{Keys: ks, Notary: notary}).Mount(r)
	f.handle(ks.ServerName, r)
}

func (f *fakeFederation) handle(server string, h http.Handler) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.servers[server] = h
}

func (f *fakeFederation) setDown(server string, down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down[server] = down
}

func (f *fakeFederation) count(server, path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[server+" "+path]
}

func (f *fakeFederation) DoUnauthenticated(ctx context.Context, dest, method, path string, body any) (*Response, error) {
	f.mu.Lock()
	h, down := f.servers[dest], f.down[dest]
	f.requests[dest+" "+path]++
	f.mu.Unlock()
	if h == nil || down {
		return nil, fmt.Errorf("dial %s: connection refused", dest)
	}
	content, err := encodeBody(body)
	if err != nil {
		return nil, err
	}
	// Like a real request, this one shares no context values (a router's
	// routing state, say) with the request that caused it; only
	// cancellation carries over.
	fresh, cancel := context.WithCancel(context.Background())
	defer cancel()
	defer context.AfterFunc(ctx, cancel)()
	req := httptest.NewRequestWithContext(fresh, method, path, bytes.NewReader(content))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return &Response{Destination: dest, Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}, nil
}
