package federation

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/mxcore"
)

// addNotary adds "notary.test", a homeserver serving as a notary with its
// own keyring in the world.
func (w *keyringWorld) addNotary(t *testing.T) *Notary {
	ks := testKeyServer(t, "notary.test", w.clock.Now)
	ring := NewKeyring(KeyringConfig{Self: ks, Store: newMemStore(), Client: w.fed, Now: w.clock.Now})
	n := &Notary{Keyring: ring, Self: ks}
	w.fed.add(ks, n)
	return n
}

func TestKeyringFetchesViaNotaryWhenServerIsDown(t *testing.T) {
	w := newKeyringWorld(t, "notary.test")
	notary := w.addNotary(t)
	ctx := t.Context()
	if _, err := notary.Keyring.VerifyKeyAt(ctx, "remote.test", "ed25519:k1", AnyTime); err != nil {
		t.Fatal(err) // the notary learns remote's keys while it is up
	}
	w.fed.setDown("remote.test", true)
	pub, err := w.ring.VerifyKeyAt(ctx, "remote.test", "ed25519:k1", w.nowMS())
	wantKey(t, pub, err, w.remotePub())
	if n := w.fed.count("notary.test", queryPath); n != 1 {
		t.Errorf("%d notary queries, want 1", n)
	}
	if n := w.fed.count("notary.test", keyPath); n != 1 {
		t.Errorf("notary's own key fetched %d times, want 1 (directly)", n)
	}
	stored, _ := w.store.RemoteKeyResponse(ctx, "remote.test")
	if strings.Contains(string(stored.JSON), "notary.test") {
		t.Errorf("stored document kept the notary's signature: %s", stored.JSON)
	}
}

// TestKeyringRefusesWhatANotaryCannotVouchFor checks both signatures a
// notarised document needs.
func TestKeyringRefusesWhatANotaryCannotVouchFor(t *testing.T) {
	w := newKeyringWorld(t)
	notaryKS := testKeyServer(t, "notary.test", w.clock.Now)
	good, _ := w.remote.Response(t.Context())
	_, strangerPriv, _ := ed25519.GenerateKey(nil)
	var doc map[string]any
	_ = json.Unmarshal(good, &doc)
	doc["valid_until_ts"] = doc["valid_until_ts"].(float64) + 1
	tampered, _ := json.Marshal(doc)
	cases := map[string][]byte{
		"notary signature by an unknown key": sign(t, good, "notary.test", "ed25519:other", strangerPriv),
		"notary signature by the wrong key":  sign(t, good, "notary.test", "ed25519:k1", strangerPriv),
		"no notary signature":                good,
		"origin signature broken":            sign(t, tampered, "notary.test", "ed25519:k1", notaryKS.Private),
	}
	for name, answer := range cases {
		t.Run(name, func(t *testing.T) {
			w := newKeyringWorld(t, "notary.test")
			w.remote = testKeyServer(t, "remote.test", w.clock.Now) // unused: remote is down
			w.fed.setDown("remote.test", true)
			w.fed.handle("notary.test", fakeNotary(notaryKS, answer))
			if _, err := w.ring.VerifyKeyAt(t.Context(), "remote.test", "ed25519:k1", AnyTime); !errors.Is(err, ErrKeyUnavailable) {
				t.Fatalf("got %v, want ErrKeyUnavailable", err)
			}
		})
	}
	t.Run("control: properly notarised", func(t *testing.T) {
		w2 := newKeyringWorld(t, "notary.test")
		w2.fed.setDown("remote.test", true)
		w2.fed.handle("notary.test", fakeNotary(notaryKS, sign(t, good, "notary.test", "ed25519:k1", notaryKS.Private)))
		pub, err := w2.ring.VerifyKeyAt(t.Context(), "remote.test", "ed25519:k1", AnyTime)
		wantKey(t, pub, err, w.remotePub())
	})
}

func sign(t *testing.T, doc []byte, server, keyID string, priv ed25519.PrivateKey) []byte {
	t.Helper()
	signed, err := mxcore.SignJSON(doc, server, keyID, priv)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// fakeNotary publishes ks's keys and answers every query with doc.
func fakeNotary(ks *KeyServer, doc []byte) http.Handler {
	r := chi.NewRouter()
	r.Method("GET", keyPath, ks)
	r.Post(queryPath, func(w http.ResponseWriter, r *http.Request) {
		mxhttp.WriteRawJSON(w, 200, []byte(`{"server_keys":[`+string(doc)+`]}`))
	})
	return r
}

// notaryAnswer queries our notary endpoints and returns the documents.
func notaryAnswer(t *testing.T, h http.Handler, req *http.Request) []json.RawMessage {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("notary answered %d %s", rec.Code, rec.Body)
	}
	var answer struct {
		ServerKeys []json.RawMessage `json:"server_keys"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil || answer.ServerKeys == nil {
		t.Fatalf("notary answer %s: %v", rec.Body, err)
	}
	return answer.ServerKeys
}

func TestNotaryServesCountersignedKeys(t *testing.T) {
	w := newKeyringWorld(t)
	n := w.addNotary(t)
	h := w.fed.servers["notary.test"]
	remotePub, notaryPub := w.remotePub(), n.Self.Private.Public().(ed25519.PublicKey)
	for name, req := range map[string]*http.Request{
		"GET":  httptest.NewRequest("GET", queryPath+"/remote.test", nil),
		"POST": httptest.NewRequest("POST", queryPath, strings.NewReader(`{"server_keys":{"remote.test":{"ed25519:k1":{"minimum_valid_until_ts":1}}}}`)),
	} {
		docs := notaryAnswer(t, h, req)
		if len(docs) != 1 {
			t.Fatalf("%s: %d documents, want 1", name, len(docs))
		}
		if err := mxcore.VerifyJSON(docs[0], "remote.test", "ed25519:k1", remotePub); err != nil {
			t.Errorf("%s: origin signature: %v", name, err)
		}
		if err := mxcore.VerifyJSON(docs[0], "notary.test", "ed25519:k1", notaryPub); err != nil {
			t.Errorf("%s: notary signature: %v", name, err)
		}
	}
	if n := w.fed.count("remote.test", keyPath); n != 1 {
		t.Errorf("remote fetched %d times for two queries, want 1", n)
	}
	own := notaryAnswer(t, h, httptest.NewRequest("GET", queryPath+"/notary.test", nil))
	if len(own) != 1 || mxcore.VerifyJSON(own[0], "notary.test", "ed25519:k1", notaryPub) != nil {
		t.Errorf("own keys: %s", own)
	}
	none := notaryAnswer(t, h, httptest.NewRequest("POST", queryPath, strings.NewReader(`{"server_keys":{"nowhere.test":{},"bad name":{}}}`)))
	if len(none) != 0 {
		t.Errorf("unreachable servers gave %s", none)
	}
	empty := notaryAnswer(t, h, httptest.NewRequest("POST", queryPath, strings.NewReader(`{"server_keys":{}}`)))
	if len(empty) != 0 {
		t.Errorf("empty query gave %s", empty)
	}
}

// TestNotaryRefreshesAndFallsBackToCache: past half its lifetime, or short
// of minimum_valid_until_ts, a document is refetched; if the server is
// down, the last one is served anyway.
func TestNotaryRefreshesAndFallsBackToCache(t *testing.T) {
	w := newKeyringWorld(t)
	w.addNotary(t)
	h := w.fed.servers["notary.test"]
	query := func(minValid string) []json.RawMessage {
		target := queryPath + "/remote.test"
		if minValid != "" {
			target += "?minimum_valid_until_ts=" + minValid
		}
		return notaryAnswer(t, h, httptest.NewRequest("GET", target, nil))
	}
	query("")
	w.clock.Advance(11 * time.Hour)
	query("")
	if n := w.fed.count("remote.test", keyPath); n != 1 {
		t.Fatalf("refetched before half the lifetime: %d fetches", n)
	}
	w.clock.Advance(2 * time.Hour)
	query("")
	if n := w.fed.count("remote.test", keyPath); n != 2 {
		t.Fatalf("not refetched after half the lifetime: %d fetches", n)
	}
	w.fed.setDown("remote.test", true)
	w.clock.Advance(time.Minute)
	far := itoa64(w.clock.Now().Add(100 * 24 * time.Hour).UnixMilli())
	if docs := query(far); len(docs) != 1 {
		t.Fatalf("cached document not served while remote is down: %s", docs)
	}
	if n := w.fed.count("remote.test", keyPath); n != 3 {
		t.Errorf("%d fetches, want a refetch attempt for the far minimum", n)
	}
}

func TestNotaryRefusesBadQueries(t *testing.T) {
	w := newKeyringWorld(t)
	w.addNotary(t)
	h := w.fed.servers["notary.test"]
	cases := []struct {
		name    string
		req     *http.Request
		status  int
		errcode string
	}{
		{"bad server name", httptest.NewRequest("GET", queryPath+"/bad%20name", nil), 400, "M_INVALID_PARAM"},
		{"bad minimum", httptest.NewRequest("GET", queryPath+"/remote.test?minimum_valid_until_ts=soon", nil), 400, "M_INVALID_PARAM"},
		{"no server_keys", httptest.NewRequest("POST", queryPath, strings.NewReader(`{}`)), 400, "M_MISSING_PARAM"},
		{"not JSON", httptest.NewRequest("POST", queryPath, strings.NewReader(`{`)), 400, "M_NOT_JSON"},
		{"wrong shape", httptest.NewRequest("POST", queryPath, strings.NewReader(`{"server_keys":[]}`)), 400, "M_BAD_JSON"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, tc.req)
			wantMatrixError(t, rec, tc.status, tc.errcode)
		})
	}
}
