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
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/warbler-im/warbler/internal/mxhttp"
)

// staticKeys serves fixed keys, as a keyring that already knows them would.
type staticKeys map[string]ed25519.PublicKey // "server key_id" → key

func (s staticKeys) CurrentKey(_ context.Context, server, keyID string) (ed25519.PublicKey, error) {
	if pub, ok := s[server+" "+keyID]; ok {
		return pub, nil
	}
	return nil, fmt.Errorf("%w: %s %s", ErrKeyUnavailable, server, keyID)
}

const ourName = "us.example.org"

// signedRequest builds a request from exampleOrigin to dest signed with the
// spec's key.
func signedRequest(t testing.TB, method, uri, dest string, body []byte) *http.Request {
	t.Helper()
	auth, err := SignRequest(method, uri, exampleOrigin, dest, body, exampleKeyID, specKey(t))
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(method, uri, bytes.NewReader(body))
	req.Header.Set("Authorization", auth.String())
	return req
}

// echoOrigin answers with the verified origin and the body it can read.
func echoOrigin(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	mxhttp.WriteJSON(w, http.StatusOK, map[string]string{"origin": Origin(r.Context()), "body": string(body)})
}

func testAuthenticator(t testing.TB) *Authenticator {
	return &Authenticator{
		ServerName: ourName,
		Keys:       staticKeys{exampleOrigin + " " + exampleKeyID: specKey(t).Public().(ed25519.PublicKey)},
		DenyOrigin: func(_ context.Context, origin string) bool { return origin == "denied.example.org" },
	}
}

func TestAuthenticatorPassesSignedRequests(t *testing.T) {
	h := testAuthenticator(t).Middleware(http.HandlerFunc(echoOrigin))
	body := []byte(`{"pdus":[]}`)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, signedRequest(t, "PUT", "/_matrix/federation/v1/send/1?a=%20b", ourName, body))
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var got map[string]string
	_ = json.Unmarshal(rec.Body.Bytes(), &got)
	if got["origin"] != exampleOrigin || got["body"] != string(body) {
		t.Errorf("handler saw %v", got)
	}
	// A Bearer header beside it does not hide the X-Matrix one.
	req := signedRequest(t, "GET", "/_matrix/federation/v1/x", ourName, nil)
	req.Header.Add("Authorization", "Bearer abc")
	req.Header["Authorization"] = []string{"Bearer abc", req.Header.Get("Authorization")}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Errorf("with a Bearer header first: %d %s", rec.Code, rec.Body)
	}
}

// TestAuthenticatorAcceptsMissingDestination: older servers omit it, and
// signed our name as the destination.
func TestAuthenticatorAcceptsMissingDestination(t *testing.T) {
	req := signedRequest(t, "GET", "/_matrix/federation/v1/x", ourName, nil)
	auth, _ := ParseXMatrix(req.Header.Get("Authorization"))
	req.Header.Set("Authorization", fmt.Sprintf(`X-Matrix origin=%s,key="%s",sig="%s"`, auth.Origin, auth.KeyID, auth.Signature))
	rec := httptest.NewRecorder()
	testAuthenticator(t).Middleware(http.HandlerFunc(echoOrigin)).ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
}

func TestAuthenticatorRefuses(t *testing.T) {
	signed := func(method, uri, dest string, body []byte) *http.Request {
		return signedRequest(t, method, uri, dest, body)
	}
	withHeader := func(r *http.Request, value string) *http.Request {
		r.Header.Set("Authorization", value)
		return r
	}
	_, strangerKey, _ := ed25519.GenerateKey(nil)
	stranger, _ := SignRequest("GET", "/_matrix/federation/v1/x", "stranger.example.org", ourName, nil, "ed25519:s", strangerKey)
	denied, _ := SignRequest("GET", "/_matrix/federation/v1/x", "denied.example.org", ourName, nil, "ed25519:d", strangerKey)
	auth := testAuthenticator(t)
	auth.Keys.(staticKeys)["denied.example.org ed25519:d"] = strangerKey.Public().(ed25519.PublicKey)
	tampered := signed("PUT", "/_matrix/federation/v1/send/1", ourName, []byte(`{"a":1}`))
	tampered.Body = io.NopCloser(strings.NewReader(`{"a":2}`))
	cases := []struct {
		name    string
		req     *http.Request
		status  int
		errcode string
	}{
		{"no header", httptest.NewRequest("GET", "/_matrix/federation/v1/x", nil), 401, "M_UNAUTHORIZED"},
		{"bearer only", withHeader(httptest.NewRequest("GET", "/x", nil), "Bearer abc"), 401, "M_UNAUTHORIZED"},
		{"malformed", withHeader(httptest.NewRequest("GET", "/x", nil), `X-Matrix origin="o`), 401, "M_UNAUTHORIZED"},
		{"origin not a server name", withHeader(httptest.NewRequest("GET", "/x", nil), `X-Matrix origin="bad name",key="ed25519:1",sig="s"`), 401, "M_UNAUTHORIZED"},
		{"not ed25519", withHeader(httptest.NewRequest("GET", "/x", nil), `X-Matrix origin="o.example",key="rsa:1",sig="s"`), 401, "M_UNAUTHORIZED"},
		{"destination not us", signed("GET", "/_matrix/federation/v1/x", "someone.else.org", nil), 401, "M_UNAUTHORIZED"},
		{"unknown key", withHeader(httptest.NewRequest("GET", "/_matrix/federation/v1/x", nil), stranger.String()), 401, "M_UNAUTHORIZED"},
		{"tampered body", tampered, 401, "M_UNAUTHORIZED"},
		{"body not JSON", signedNotJSON(t), 400, "M_NOT_JSON"},
		{"denied origin", withHeader(httptest.NewRequest("GET", "/_matrix/federation/v1/x", nil), denied.String()), 403, "M_FORBIDDEN"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			auth.Middleware(http.HandlerFunc(echoOrigin)).ServeHTTP(rec, tc.req)
			wantMatrixError(t, rec, tc.status, tc.errcode)
		})
	}
}

// signedNotJSON carries a valid signature header over some JSON but a body
// that is not JSON.
func signedNotJSON(t *testing.T) *http.Request {
	req := signedRequest(t, "PUT", "/_matrix/federation/v1/send/1", ourName, []byte(`{}`))
	req.Body = io.NopCloser(strings.NewReader(`not json`))
	return req
}

func wantMatrixError(t *testing.T, rec *httptest.ResponseRecorder, status int, errcode string) {
	t.Helper()
	var body struct {
		ErrCode string `json:"errcode"`
		Error   string `json:"error"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	if rec.Code != status || body.ErrCode != errcode || body.Error == "" {
		t.Errorf("got %d %s, want %d %s", rec.Code, rec.Body, status, errcode)
	}
}

// TestRoutesAuthenticateFederationPaths checks what Mount protects: every
// path under /_matrix/federation/ but the version, known or not.
func TestRoutesAuthenticateFederationPaths(t *testing.T) {
	r := chi.NewRouter()
	r.NotFound(mxhttp.NotFound)
	r.MethodNotAllowed(mxhttp.MethodNotAllowed)
	r.Use(mxhttp.LimitBody(1 << 10))
	ks := testKeyServer(t, "us.example.org", time.Now)
	(&Routes{Keys: ks, Auth: testAuthenticator(t), Notary: &Notary{Keyring: NewKeyring(KeyringConfig{Self: ks, Store: newMemStore()}), Self: ks}}).Mount(r)
	cases := []struct {
		name    string
		req     *http.Request
		status  int
		errcode string
	}{
		{"unsigned send", httptest.NewRequest("PUT", "/_matrix/federation/v1/send/1", strings.NewReader(`{}`)), 401, "M_UNAUTHORIZED"},
		{"unsigned unknown", httptest.NewRequest("GET", "/_matrix/federation/v9/nothing", nil), 401, "M_UNAUTHORIZED"},
		{"signed unknown", signedRequest(t, "GET", "/_matrix/federation/v1/nothing", ourName, nil), 404, "M_UNRECOGNIZED"},
		{"body too large", signedRequest(t, "PUT", "/_matrix/federation/v1/send/1", ourName, []byte(`{"a":"`+strings.Repeat("x", 2000)+`"}`)), 413, "M_TOO_LARGE"},
		{"version", httptest.NewRequest("GET", "/_matrix/federation/v1/version", nil), 200, ""},
		{"server keys", httptest.NewRequest("GET", "/_matrix/key/v2/server", nil), 200, ""},
		{"notary", httptest.NewRequest("GET", "/_matrix/key/v2/query/us.example.org", nil), 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, tc.req)
			if tc.errcode == "" {
				if rec.Code != tc.status {
					t.Errorf("got %d %s, want %d", rec.Code, rec.Body, tc.status)
				}
				return
			}
			wantMatrixError(t, rec, tc.status, tc.errcode)
		})
	}
}
