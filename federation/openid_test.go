package federation

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/warbler-im/warbler/mxcore"
)

// TestOpenIDUserInfoNeedsNoSignature: the endpoint answers unsigned
// requests (the caller holds a token, not a server key) while its
// neighbours still demand X-Matrix.
func TestOpenIDUserInfoNeedsNoSignature(t *testing.T) {
	rt := &Routes{
		Auth: &Authenticator{ServerName: "example.org"},
		OpenID: func(_ context.Context, token string) (string, error) {
			if token == "good" {
				return "@alice:example.org", nil
			}
			return "", mxcore.NewError(http.StatusUnauthorized, "M_UNKNOWN_TOKEN", "unknown token")
		},
	}
	r := chi.NewRouter()
	rt.Mount(r)
	tests := []struct {
		name, path string
		status     int
		want       string
	}{
		{"known token", "/_matrix/federation/v1/openid/userinfo?access_token=good", 200, `{"sub":"@alice:example.org"}`},
		{"unknown token", "/_matrix/federation/v1/openid/userinfo?access_token=bad", 401, "M_UNKNOWN_TOKEN"},
		{"no token", "/_matrix/federation/v1/openid/userinfo", 401, "M_UNKNOWN_TOKEN"},
		{"other endpoints still signed", "/_matrix/federation/v1/state/!r:example.org", 401, "M_UNAUTHORIZED"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, httptest.NewRequest("GET", tc.path, nil))
			var body map[string]any
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			got := rec.Body.String()
			if code, ok := body["errcode"].(string); ok {
				got = code
			}
			if rec.Code != tc.status || (got != tc.want && got != tc.want+"\n") {
				t.Errorf("got %d %s, want %d %s", rec.Code, rec.Body, tc.status, tc.want)
			}
		})
	}
}
