package clientapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/internal/secrets"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

// Session is the authenticated caller of a request.
type Session struct {
	UserID    string
	DeviceID  string
	TokenHash []byte
}

type sessionKey struct{}

// SessionFrom returns the session RequireAuth put in the context.
func SessionFrom(ctx context.Context) (Session, bool) {
	s, ok := ctx.Value(sessionKey{}).(Session)
	return s, ok
}

// accessToken extracts the token from the Authorization header or, as the
// spec still allows, the access_token query parameter.
func accessToken(r *http.Request) (string, bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, token, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "Bearer") && token != "" {
			return strings.TrimSpace(token), true
		}
		return "", false
	}
	if token := r.URL.Query().Get("access_token"); token != "" {
		return token, true
	}
	return "", false
}

// authenticate resolves the request's token to a session.
func (a *API) authenticate(r *http.Request) (Session, error) {
	token, ok := accessToken(r)
	if !ok {
		return Session{}, mxcore.MissingToken()
	}
	hash := secrets.HashToken(token)
	rec, err := a.Store.LookupAccessToken(r.Context(), hash)
	if errors.Is(err, storage.ErrNotFound) {
		return Session{}, mxcore.UnknownToken("Unrecognised access token", false)
	}
	if err != nil {
		return Session{}, err
	}
	if rec.ExpiresTS != 0 && a.now().UnixMilli() >= rec.ExpiresTS {
		// Expired but once valid: the client may refresh without losing its device.
		return Session{}, mxcore.UnknownToken("Access token has expired", true)
	}
	return Session{UserID: rec.UserID, DeviceID: rec.DeviceID, TokenHash: hash}, nil
}

// RequireAuth rejects requests without a valid access token and puts the
// caller's session in the request context.
func (a *API) RequireAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, err := a.authenticate(r)
		if err != nil {
			mxhttp.WriteError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, sess)))
	})
}

func (a *API) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}
