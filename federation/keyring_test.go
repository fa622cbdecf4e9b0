package federation

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/mxcore"
)

const (
	keyPath   = "/_matrix/key/v2/server"
	queryPath = "/_matrix/key/v2/query"
)

// keyringWorld is a fake federation: "remote.test" publishing keys, an
// optional notary, and our keyring.
type keyringWorld struct {
	clock  *fakeClock
	fed    *fakeFederation
	remote *KeyServer
	store  *memStore
	ring   *Keyring
}

func newKeyringWorld(t *testing.T, notaries ...string) *keyringWorld {
	w := &keyringWorld{clock: newFakeClock(), fed: newFakeFederation(), store: newMemStore()}
	w.remote = testKeyServer(t, "remote.test", w.clock.Now)
	w.fed.add(w.remote, nil)
	w.ring = w.newKeyring(t, notaries...)
	return w
}

// newKeyring is a keyring of "us.test" on the world's store.
func (w *keyringWorld) newKeyring(t *testing.T, notaries ...string) *Keyring {
	return NewKeyring(KeyringConfig{
		Self: testKeyServer(t, "us.test", w.clock.Now), Store: w.store, Client: w.fed,
		Notaries: notaries, Now: w.clock.Now,
	})
}

func (w *keyringWorld) remotePub() ed25519.PublicKey {
	return w.remote.Private.Public().(ed25519.PublicKey)
}

func (w *keyringWorld) nowMS() int64 { return w.clock.Now().UnixMilli() }

func wantKey(t *testing.T, got ed25519.PublicKey, err error, want ed25519.PublicKey) {
	t.Helper()
	if err != nil {
		t.Fatalf("key lookup: %v", err)
	}
	if !got.Equal(want) {
		t.Fatalf("got key %x, want %x", got, want)
	}
}

func TestKeyringFetchesDirectlyAndCaches(t *testing.T) {
	w := newKeyringWorld(t)
	ctx := t.Context()
	pub, err := w.ring.VerifyKeyAt(ctx, "remote.test", "ed25519:k1", w.nowMS())
	wantKey(t, pub, err, w.remotePub())
	pub, err = w.ring.CurrentKey(ctx, "remote.test", "ed25519:k1")
	wantKey(t, pub, err, w.remotePub())
	if n := w.fed.count("remote.test", keyPath); n != 1 {
		t.Errorf("%d fetches, want 1", n)
	}
	stored, _ := w.store.RemoteServerKeys(ctx, "remote.test")
	if len(stored) != 1 || stored[0].ValidUntilTS != w.clock.Now().Add(24*time.Hour).UnixMilli() || stored[0].FetchedTS != w.nowMS() {
		t.Errorf("stored %+v", stored)
	}
	// A restarted server reads storage instead of fetching.
	restarted := w.newKeyring(t)
	pub, err = restarted.VerifyKeyAt(ctx, "remote.test", "ed25519:k1", w.nowMS())
	wantKey(t, pub, err, w.remotePub())
	if n := w.fed.count("remote.test", keyPath); n != 1 {
		t.Errorf("%d fetches after restart, want still 1", n)
	}
}

func TestKeyringRefetchesWhenValidityDoesNotCover(t *testing.T) {
	w := newKeyringWorld(t)
	ctx := t.Context()
	fetchedAt := w.nowMS()
	if _, err := w.ring.VerifyKeyAt(ctx, "remote.test", "ed25519:k1", fetchedAt); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(25 * time.Hour) // past valid_until_ts
	// An event from within the validity period needs no refetch...
	if _, err := w.ring.VerifyKeyAt(ctx, "remote.test", "ed25519:k1", fetchedAt+time.Hour.Milliseconds()); err != nil {
		t.Fatal(err)
	}
	if n := w.fed.count("remote.test", keyPath); n != 1 {
		t.Fatalf("%d fetches, want 1", n)
	}
	// ...a request now does, and the new response extends the validity.
	pub, err := w.ring.CurrentKey(ctx, "remote.test", "ed25519:k1")
	wantKey(t, pub, err, w.remotePub())
	if n := w.fed.count("remote.test", keyPath); n != 2 {
		t.Errorf("%d fetches, want 2", n)
	}
}

// TestKeyringCapsValidityAtSevenDays: a far valid_until_ts is honoured only
// up to 7 days after fetching.
func TestKeyringCapsValidityAtSevenDays(t *testing.T) {
	w := newKeyringWorld(t)
	w.remote.Validity = 365 * 24 * time.Hour
	ctx := t.Context()
	fetchedAt := w.nowMS()
	day := 24 * time.Hour.Milliseconds()
	if _, err := w.ring.VerifyKeyAt(ctx, "remote.test", "ed25519:k1", fetchedAt+6*day); err != nil {
		t.Fatal(err)
	}
	w.fed.setDown("remote.test", true)
	w.clock.Advance(8 * 24 * time.Hour)
	if _, err := w.ring.VerifyKeyAt(ctx, "remote.test", "ed25519:k1", fetchedAt+8*day); !errors.Is(err, ErrKeyUnavailable) {
		t.Fatalf("8 days after fetching: %v, want ErrKeyUnavailable", err)
	}
	if n := w.fed.count("remote.test", keyPath); n != 2 {
		t.Errorf("%d fetches, want a refetch attempt", n)
	}
	if _, err := w.ring.VerifyKeyAt(ctx, "remote.test", "ed25519:k1", AnyTime); err != nil {
		t.Errorf("AnyTime (room versions 1-4): %v", err)
	}
}

func TestKeyringOldKeys(t *testing.T) {
	w := newKeyringWorld(t)
	ctx := t.Context()
	oldPub := w.remotePub()
	w.clock.Advance(time.Hour)
	rotatedAt := w.nowMS()
	rotate(t, w.remote, "ed25519:k2")
	// An event signed with k1 before the rotation still verifies...
	pub, err := w.ring.VerifyKeyAt(ctx, "remote.test", "ed25519:k1", rotatedAt-1)
	wantKey(t, pub, err, oldPub)
	// ...one after it does not, nor does a request.
	if _, err := w.ring.VerifyKeyAt(ctx, "remote.test", "ed25519:k1", rotatedAt+1); !errors.Is(err, ErrKeyUnavailable) {
		t.Errorf("old key after expiry: %v", err)
	}
	if _, err := w.ring.CurrentKey(ctx, "remote.test", "ed25519:k1"); !errors.Is(err, ErrKeyUnavailable) {
		t.Errorf("old key for a request: %v", err)
	}
	pub, err = w.ring.CurrentKey(ctx, "remote.test", "ed25519:k2")
	wantKey(t, pub, err, w.remotePub())
}

// TestKeyringExpiryIsSticky: a stale document that still lists an expired
// key as current does not revive it.
func TestKeyringExpiryIsSticky(t *testing.T) {
	w := newKeyringWorld(t)
	staleDoc, _ := w.remote.Response(t.Context())
	w.clock.Advance(time.Hour)
	rotate(t, w.remote, "ed25519:k2")
	if _, err := w.ring.CurrentKey(t.Context(), "remote.test", "ed25519:k2"); err != nil {
		t.Fatal(err)
	}
	stale, err := checkKeyResponse(staleDoc, "remote.test", w.nowMS())
	if err != nil {
		t.Fatal(err)
	}
	w.ring.remember(t.Context(), "remote.test", stale)
	if _, err := w.ring.CurrentKey(t.Context(), "remote.test", "ed25519:k1"); err == nil {
		t.Error("an expired key became current again")
	}
}

func TestKeyringRefusesBadDocuments(t *testing.T) {
	w := newKeyringWorld(t)
	good, _ := w.remote.Response(t.Context())
	impostor := testKeyServer(t, "impostor.test", w.clock.Now)
	impostorDoc, _ := impostor.Response(t.Context())
	var doc map[string]any
	_ = json.Unmarshal(good, &doc)
	doc["valid_until_ts"] = float64(doc["valid_until_ts"].(float64) + 1000)
	tampered, _ := json.Marshal(doc)
	delete(doc, "signatures")
	unsigned, _ := json.Marshal(doc)
	_, otherPriv, _ := ed25519.GenerateKey(nil)
	wrongKey, _ := mxcore.SignJSON(unsigned, "remote.test", "ed25519:k1", otherPriv)
	cases := map[string][]byte{
		"another server's document": impostorDoc,
		"tampered after signing":    tampered,
		"unsigned":                  unsigned,
		"signed by another key":     wrongKey,
		"not JSON":                  []byte("<html>"),
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			w := newKeyringWorld(t)
			w.fed.handle("remote.test", rawHandler(body))
			if _, err := w.ring.VerifyKeyAt(t.Context(), "remote.test", "ed25519:k1", AnyTime); !errors.Is(err, ErrKeyUnavailable) {
				t.Fatalf("got %v, want ErrKeyUnavailable", err)
			}
			if stored, _ := w.store.RemoteServerKeys(t.Context(), "remote.test"); len(stored) != 0 {
				t.Errorf("stored %+v from a bad document", stored)
			}
		})
	}
}

func rawHandler(body []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mxhttp.WriteRawJSON(w, http.StatusOK, body)
	})
}

func TestKeyringBacksOffAfterFailures(t *testing.T) {
	w := newKeyringWorld(t)
	w.fed.setDown("remote.test", true)
	ctx := t.Context()
	attempt := func() error {
		_, err := w.ring.VerifyKeyAt(ctx, "remote.test", "ed25519:k1", AnyTime)
		return err
	}
	steps := []struct {
		advance time.Duration
		fetches int
	}{
		{0, 1},                // first failure
		{time.Second, 1},      // within 15 s: answered from the negative cache
		{15 * time.Second, 2}, // second failure: next backoff 30 s
		{20 * time.Second, 2}, // still backing off
		{11 * time.Second, 3}, // third failure
		{time.Hour, 4},        // backoff is capped
	}
	for i, step := range steps {
		w.clock.Advance(step.advance)
		if err := attempt(); !errors.Is(err, ErrKeyUnavailable) {
			t.Fatalf("step %d: %v", i, err)
		}
		if n := w.fed.count("remote.test", keyPath); n != step.fetches {
			t.Fatalf("step %d: %d fetches, want %d", i, n, step.fetches)
		}
	}
	w.fed.setDown("remote.test", false)
	w.clock.Advance(maxFetchBackoff)
	if err := attempt(); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
}

// TestKeyringLimitsRefetchesForUnknownKeys: requests naming key IDs a
// server does not have cannot make us fetch on every request.
func TestKeyringLimitsRefetchesForUnknownKeys(t *testing.T) {
	w := newKeyringWorld(t)
	for i := 0; i < 5; i++ {
		if _, err := w.ring.CurrentKey(t.Context(), "remote.test", "ed25519:nonesuch"); err == nil {
			t.Fatal("unknown key found")
		}
	}
	if n := w.fed.count("remote.test", keyPath); n != 1 {
		t.Errorf("%d fetches, want 1", n)
	}
}

func TestKeyringSharesConcurrentFetches(t *testing.T) {
	w := newKeyringWorld(t)
	release := make(chan struct{})
	inner := w.fed.servers["remote.test"]
	w.fed.handle("remote.test", http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		<-release
		inner.ServeHTTP(rw, r)
	}))
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := w.ring.VerifyKeyAt(t.Context(), "remote.test", "ed25519:k1", AnyTime); err != nil {
				t.Error(err)
			}
		})
	}
	time.Sleep(20 * time.Millisecond)
	close(release)
	wg.Wait()
	if n := w.fed.count("remote.test", keyPath); n != 1 {
		t.Errorf("%d fetches for 20 concurrent lookups, want 1", n)
	}
}

func TestKeyringBoundsConcurrentFetches(t *testing.T) {
	w := newKeyringWorld(t)
	w.ring = NewKeyring(KeyringConfig{Store: w.store, Client: w.fed, Now: w.clock.Now, MaxConcurrentFetches: 2})
	var inFlight, peak atomic.Int32
	servers := []string{"a.test", "b.test", "c.test", "d.test", "e.test"}
	for _, name := range servers {
		ks := testKeyServer(t, name, w.clock.Now)
		w.fed.handle(name, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			n := inFlight.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			time.Sleep(10 * time.Millisecond)
			inFlight.Add(-1)
			ks.ServeHTTP(rw, r)
		}))
	}
	var wg sync.WaitGroup
	for _, name := range servers {
		wg.Go(func() {
			if _, err := w.ring.VerifyKeyAt(t.Context(), name, "ed25519:k1", AnyTime); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if p := peak.Load(); p > 2 {
		t.Errorf("%d fetches at once, want at most 2", p)
	}
}

func TestKeyringKnowsItsOwnKeysWithoutTheNetwork(t *testing.T) {
	w := newKeyringWorld(t)
	self := w.ring.self
	pub, err := w.ring.CurrentKey(t.Context(), "us.test", self.KeyID)
	wantKey(t, pub, err, self.Private.Public().(ed25519.PublicKey))
	if _, err := w.ring.CurrentKey(t.Context(), "us.test", "ed25519:other"); !errors.Is(err, ErrKeyUnavailable) {
		t.Errorf("unknown own key: %v", err)
	}
}

func TestKeyringKeepsKeysWhenStorageFails(t *testing.T) {
	w := newKeyringWorld(t)
	w.store.failWrite = true
	pub, err := w.ring.VerifyKeyAt(t.Context(), "remote.test", "ed25519:k1", AnyTime)
	wantKey(t, pub, err, w.remotePub())
}

func TestVerifyJSONFrom(t *testing.T) {
	w := newKeyringWorld(t)
	ctx := t.Context()
	signed, _ := mxcore.SignJSON([]byte(`{"a":1}`), "remote.test", "ed25519:k1", w.remote.Private)
	if err := w.ring.VerifyJSONFrom(ctx, "remote.test", signed, w.nowMS()); err != nil {
		t.Fatalf("valid signature: %v", err)
	}
	tampered := []byte(`{"a":2,` + string(signed[len(`{"a":1,`):]))
	if err := w.ring.VerifyJSONFrom(ctx, "remote.test", tampered, w.nowMS()); !errors.Is(err, mxcore.ErrSignatureInvalid) {
		t.Errorf("tampered: %v", err)
	}
	if err := w.ring.VerifyJSONFrom(ctx, "other.test", signed, w.nowMS()); !errors.Is(err, mxcore.ErrSignatureMissing) {
		t.Errorf("signature of another server: %v", err)
	}
}

func TestVerifyEventFromHonoursRoomVersionValidity(t *testing.T) {
	w := newKeyringWorld(t)
	ctx := t.Context()
	late := w.clock.Now().Add(30 * 24 * time.Hour).UnixMilli() // beyond any validity
	event := []byte(`{"type":"m.room.message","room_id":"!r:remote.test","sender":"@a:remote.test",` +
		`"origin_server_ts":` + itoa64(late) + `,"content":{"body":"hi"},"hashes":{"sha256":"x"},` +
		`"depth":1,"prev_events":[],"auth_events":[]}`)
	for _, tc := range []struct {
		version string
		ok      bool
	}{{"4", true}, {"5", false}, {"12", false}} {
		ver, _ := mxcore.GetRoomVersion(tc.version)
		signed, err := mxcore.SignEvent(event, "remote.test", "ed25519:k1", w.remote.Private, ver)
		if err != nil {
			t.Fatal(err)
		}
		err = w.ring.VerifyEventFrom(ctx, "remote.test", signed, ver)
		if (err == nil) != tc.ok {
			t.Errorf("room version %s, event long after valid_until_ts: %v", tc.version, err)
		}
	}
}

func itoa64(n int64) string { b, _ := json.Marshal(n); return string(b) }

func BenchmarkKeyringCacheHit(b *testing.B) {
	clock := newFakeClock()
	fed := newFakeFederation()
	remote := testKeyServer(b, "remote.test", clock.Now)
	fed.add(remote, nil)
	ring := NewKeyring(KeyringConfig{Store: newMemStore(), Client: fed, Now: clock.Now})
	ctx := context.Background()
	ts := clock.Now().UnixMilli()
	if _, err := ring.VerifyKeyAt(ctx, "remote.test", "ed25519:k1", ts); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := ring.VerifyKeyAt(ctx, "remote.test", "ed25519:k1", ts); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestKeyringForgetsKeylessServersWhenFull(t *testing.T) {
	w := newKeyringWorld(t)
	if _, err := w.ring.VerifyKeyAt(t.Context(), "remote.test", "ed25519:k1", AnyTime); err != nil {
		t.Fatal(err)
	}
	w.ring.mu.Lock()
	for i := len(w.ring.servers); i < maxServerStates; i++ {
		w.ring.state("made-up-" + itoa64(int64(i)) + ".test")
	}
	w.ring.state("one-more.test")
	n := len(w.ring.servers)
	w.ring.mu.Unlock()
	if n != 2 {
		t.Errorf("%d servers tracked, want the one with keys and the new one", n)
	}
	if _, err := w.ring.VerifyKeyAt(t.Context(), "remote.test", "ed25519:k1", AnyTime); err != nil {
		t.Errorf("known keys were forgotten: %v", err)
	}
}
