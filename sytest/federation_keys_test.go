package sytest

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/sytest/harness"
)

// startFederating starts a server that federates with the others of the
// test over real TLS on loopback.
func startFederating(t *testing.T, backend harness.Backend) *harness.Server {
	t.Helper()
	return harness.Start(t, harness.Options{Backend: backend, Federation: true, SharedCA: true})
}

// TestNotaryServesAnotherServersKeys: A, asked as a notary for B's keys,
// fetches them from B over verified TLS, hands them on with both B's
// signature and its own, and keeps serving them from storage once B is gone.
func TestNotaryServesAnotherServersKeys(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		a, b := startFederating(t, backend), startFederating(t, backend)
		fed := harness.FederationHTTPClient(t)
		aKeys := checkKeyResponse(t, harness.DoURL(t, fed, "GET", a.FedURL+"/_matrix/key/v2/server", nil, ""), a.Name)
		bKeys := checkKeyResponse(t, harness.DoURL(t, fed, "GET", b.FedURL+"/_matrix/key/v2/server", nil, ""), b.Name)

		queryOne := "/_matrix/key/v2/query/" + url.PathEscape(b.Name)
		checkNotarised(t, a.Do("GET", queryOne, nil, ""), b.Name, bKeys, a.Name, aKeys)
		bulk := map[string]any{"server_keys": map[string]any{b.Name: map[string]any{}}}
		checkNotarised(t, a.Do("POST", "/_matrix/key/v2/query", bulk, ""), b.Name, bKeys, a.Name, aKeys)

		// Servers that cannot be reached, or may not be (a private address
		// outside federation.allowed_networks), are left out.
		unreachable := map[string]any{"server_keys": map[string]any{"127.0.0.1:1": map[string]any{}, "10.255.255.1:8448": map[string]any{}}}
		if docs := notarisedDocs(t, a.Do("POST", "/_matrix/key/v2/query", unreachable, "")); len(docs) != 0 {
			t.Errorf("keys for unreachable servers: %s", docs)
		}

		b.Stop()
		a.Restart()
		checkNotarised(t, a.Do("GET", queryOne, nil, ""), b.Name, bKeys, a.Name, aKeys)
	})
}

// TestFederationRequestsMustBeSigned: B accepts a request signed with A's
// key (fetched from A over TLS) and refuses unsigned, tampered or
// misdirected ones with 401 M_UNAUTHORIZED.
func TestFederationRequestsMustBeSigned(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		a, b := startFederating(t, backend), startFederating(t, backend)
		fed := harness.FederationHTTPClient(t)
		keyID, priv := readSigningKey(t, a)
		// No endpoint that needs a signature exists yet; a signed request
		// to an unknown one passes authentication and then gets the
		// spec's 404 M_UNRECOGNIZED.
		const path = "/_matrix/federation/v1/org.warbler.sytest/nothing"
		body := []byte(`{"hello":"world"}`)
		auth := xMatrix(t, "PUT", path, a.Name, b.Name, body, keyID, priv)

		want(t, sendFed(t, fed, b, "PUT", path, body, auth), http.StatusNotFound, "M_UNRECOGNIZED")
		want(t, sendFed(t, fed, b, "PUT", "/_matrix/federation/v1/send/txn1", []byte(`{"pdus":[]}`), ""), http.StatusUnauthorized, "M_UNAUTHORIZED")
		want(t, sendFed(t, fed, b, "PUT", path, []byte(`{"hello":"mars"}`), auth), http.StatusUnauthorized, "M_UNAUTHORIZED")
		want(t, sendFed(t, fed, b, "PUT", path+"x", body, auth), http.StatusUnauthorized, "M_UNAUTHORIZED")
		elsewhere := xMatrix(t, "PUT", path, a.Name, "other.example.org", body, keyID, priv)
		want(t, sendFed(t, fed, b, "PUT", path, body, elsewhere), http.StatusUnauthorized, "M_UNAUTHORIZED")
		unknownKey := strings.Replace(auth, keyID, "ed25519:nonesuch", 1)
		want(t, sendFed(t, fed, b, "PUT", path, body, unknownKey), http.StatusUnauthorized, "M_UNAUTHORIZED")
		// The version stays open to all.
		want(t, sendFed(t, fed, b, "GET", "/_matrix/federation/v1/version", nil, ""), http.StatusOK, "")

		// To verify, B fetched A's keys: as a notary it now serves them.
		aKeys := checkKeyResponse(t, a.Do("GET", "/_matrix/key/v2/server", nil, ""), a.Name)
		bKeys := checkKeyResponse(t, b.Do("GET", "/_matrix/key/v2/server", nil, ""), b.Name)
		a.Stop()
		checkNotarised(t, b.Do("GET", "/_matrix/key/v2/query/"+url.PathEscape(a.Name), nil, ""), a.Name, aKeys, b.Name, bKeys)
	})
}

// readSigningKey reads a server's key file ("ed25519 <version> <seed>").
func readSigningKey(t *testing.T, s *harness.Server) (string, ed25519.PrivateKey) {
	t.Helper()
	raw, err := os.ReadFile(s.DataFile("signing.key"))
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(raw))
	seed, err := mxcore.DecodeBase64(fields[2])
	if len(fields) != 3 || err != nil {
		t.Fatalf("signing key file: %q", raw)
	}
	return "ed25519:" + fields[1], ed25519.NewKeyFromSeed(seed)
}

// xMatrix builds an Authorization header following the spec's steps,
// independently of the server's code.
func xMatrix(t *testing.T, method, uri, origin, destination string, body []byte, keyID string, priv ed25519.PrivateKey) string {
	t.Helper()
	request := map[string]any{"method": method, "uri": uri, "origin": origin, "destination": destination}
	if body != nil {
		request["content"] = json.RawMessage(body)
	}
	raw, _ := json.Marshal(request)
	signed, err := mxcore.SignJSON(raw, origin, keyID, priv)
	if err != nil {
		t.Fatal(err)
	}
	var parsed struct {
		Signatures map[string]map[string]string `json:"signatures"`
	}
	_ = json.Unmarshal(signed, &parsed)
	return fmt.Sprintf(`X-Matrix origin="%s",destination="%s",key="%s",sig="%s"`, origin, destination, keyID, parsed.Signatures[origin][keyID])
}

func sendFed(t *testing.T, c *http.Client, to *harness.Server, method, path string, body []byte, auth string) harness.Response {
	t.Helper()
	req, err := http.NewRequest(method, to.FedURL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return harness.Response{Status: resp.StatusCode, Header: resp.Header, Body: buf.Bytes()}
}

func notarisedDocs(t *testing.T, resp harness.Response) []json.RawMessage {
	t.Helper()
	var answer struct {
		ServerKeys []json.RawMessage `json:"server_keys"`
	}
	if resp.Status != http.StatusOK || json.Unmarshal(resp.Body, &answer) != nil || answer.ServerKeys == nil {
		t.Fatalf("notary answer: %d %s", resp.Status, resp.Body)
	}
	return answer.ServerKeys
}

// checkNotarised wants exactly one document, origin's keys, signed by
// origin and by the notary with the keys each publishes.
func checkNotarised(t *testing.T, resp harness.Response, origin string, originKeys keyResponse, notary string, notaryKeys keyResponse) {
	t.Helper()
	docs := notarisedDocs(t, resp)
	if len(docs) != 1 {
		t.Fatalf("%d documents for %s, want 1: %s", len(docs), origin, resp.Body)
	}
	var doc keyResponse
	if err := json.Unmarshal(docs[0], &doc); err != nil || doc.ServerName != origin {
		t.Fatalf("document is not %s's: %s", origin, docs[0])
	}
	for id := range originKeys.VerifyKeys {
		if doc.VerifyKeys[id].Key != originKeys.VerifyKeys[id].Key {
			t.Errorf("notary gives %s key %s as %q, the server publishes %q", origin, id, doc.VerifyKeys[id].Key, originKeys.VerifyKeys[id].Key)
		}
	}
	verifyWithAny(t, docs[0], origin, originKeys)
	verifyWithAny(t, docs[0], notary, notaryKeys)
}

func verifyWithAny(t *testing.T, doc []byte, server string, keys keyResponse) {
	t.Helper()
	for id, k := range keys.VerifyKeys {
		pub, _ := mxcore.DecodeBase64(k.Key)
		if mxcore.VerifyJSON(doc, server, id, ed25519.PublicKey(pub)) == nil {
			return
		}
	}
	t.Errorf("no valid signature of %s on %s", server, doc)
}
