package federation

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/mxcore"
)

// RequestKeys finds the key a request signature must verify with: one the
// server currently publishes in verify_keys, valid now (old_verify_keys
// only ever sign events). *Keyring is one.
type RequestKeys interface {
	CurrentKey(ctx context.Context, server, keyID string) (ed25519.PublicKey, error)
}

// Authenticator verifies the X-Matrix signature of incoming federation
// requests.
type Authenticator struct {
	ServerName string
	Keys       RequestKeys
	// DenyOrigin, if set, names servers this deployment refuses outright
	// (a blocklist, the residency policy); their authenticated requests
	// get 403 M_FORBIDDEN, as the spec answers servers an ACL denies.
	DenyOrigin func(ctx context.Context, origin string) bool
	// Seen, if set, hears of every origin whose request verified: the
	// outbound sender takes it as a sign the server is up again.
	Seen func(origin string)
}

type originKey struct{}

// Origin returns the server that signed the request being handled, as
// verified by the Authenticator; "" outside its middleware.
func Origin(ctx context.Context) string {
	origin, _ := ctx.Value(originKey{}).(string)
	return origin
}

// WithOrigin records a verified origin in ctx. Only the Authenticator and
// tests of handlers behind it should call it.
func WithOrigin(ctx context.Context, origin string) context.Context {
	return context.WithValue(ctx, originKey{}, origin)
}

// Middleware lets a request through only when its signature verifies,
// with the origin in the request context and the body still readable.
func (a *Authenticator) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin, body, err := a.Authenticate(r)
		if err != nil {
			mxhttp.WriteError(w, r, err)
			return
		}
		if a.Seen != nil {
			a.Seen(origin)
		}
		r = r.WithContext(WithOrigin(r.Context(), origin))
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

// Authenticate checks r's X-Matrix signature and returns the origin and
// the body it read. Errors are Matrix errors: 401 M_UNAUTHORIZED for a
// missing, malformed or wrong signature or an unobtainable key, 403
// M_FORBIDDEN for a denied origin, 400/413 for an unusable body.
func (a *Authenticator) Authenticate(r *http.Request) (string, []byte, error) {
	auth, err := a.header(r)
	if err != nil {
		return "", nil, err
	}
	body, err := readJSONBody(r)
	if err != nil {
		return "", nil, err
	}
	pub, err := a.Keys.CurrentKey(r.Context(), auth.Origin, auth.KeyID)
	if err != nil {
		slog.InfoContext(r.Context(), "federation request key unavailable", "origin", auth.Origin, "key_id", auth.KeyID, "err", err)
		return "", nil, unauthorized("Could not find a valid key " + auth.KeyID + " of " + auth.Origin)
	}
	if err := VerifyRequest(r.Method, requestTarget(r), body, auth, a.ServerName, pub); err != nil {
		return "", nil, unauthorized("Request signature does not verify")
	}
	if a.DenyOrigin != nil && a.DenyOrigin(r.Context(), auth.Origin) {
		return "", nil, mxcore.Forbidden("This server does not accept requests from " + auth.Origin)
	}
	return auth.Origin, body, nil
}

// header finds and checks the first X-Matrix Authorization header.
func (a *Authenticator) header(r *http.Request) (XMatrix, error) {
	for _, value := range r.Header.Values("Authorization") {
		auth, err := ParseXMatrix(value)
		if errors.Is(err, errNotXMatrix) {
			continue
		}
		if err != nil {
			return XMatrix{}, unauthorized(err.Error())
		}
		return auth, a.checkHeader(auth)
	}
	return XMatrix{}, unauthorized("Missing X-Matrix Authorization header")
}

func (a *Authenticator) checkHeader(auth XMatrix) error {
	if !mxcore.ValidServerName(auth.Origin) {
		return unauthorized("X-Matrix origin is not a server name")
	}
	// The spec: a destination that is present but not us must be denied
	// with 401; one that is absent is accepted from older servers.
	if auth.Destination != "" && auth.Destination != a.ServerName {
		return unauthorized("X-Matrix destination is not this server")
	}
	if !strings.HasPrefix(auth.KeyID, mxcore.KeyAlgorithmEd25519+":") {
		return unauthorized("X-Matrix key is not an ed25519 key")
	}
	return nil
}

// readJSONBody reads the (size-limited) body, which must be JSON if
// present, since the signature covers it as parsed JSON.
func readJSONBody(r *http.Request) ([]byte, error) {
	body, err := mxhttp.ReadBody(r)
	if err != nil {
		return nil, err
	}
	body = bytes.TrimSpace(body)
	if len(body) > 0 && !json.Valid(body) {
		return nil, mxcore.NotJSON("Request body is not JSON")
	}
	return body, nil
}

// requestTarget is the path and query exactly as the sender wrote them,
// which is what it signed.
func requestTarget(r *http.Request) string {
	if strings.HasPrefix(r.RequestURI, "/") {
		return r.RequestURI
	}
	return r.URL.RequestURI()
}

func unauthorized(msg string) *mxcore.Error {
	return mxcore.NewError(http.StatusUnauthorized, mxcore.ErrUnauthorized, "%s", msg)
}
