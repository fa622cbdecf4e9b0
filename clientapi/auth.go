package clientapi

import (
	"context"
	"errors"
	"log/slog"
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
	// Suspended: the account may only read and tidy up (moderation.go).
	Suspended bool
	// locked: only the routes that allow it (logout) serve the session.
	locked bool
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

// hasCredentials reports whether the request tries to authenticate at all.
func hasCredentials(r *http.Request) bool {
	return r.Header.Get("Authorization") != "" || r.URL.Query().Has("access_token")
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
	if err := a.confirmRefreshed(r.Context(), rec); err != nil {
		return Session{}, err
	}
	a.touchDevice(r, rec)
	return Session{UserID: rec.UserID, DeviceID: rec.DeviceID, TokenHash: hash, Suspended: rec.UserSuspended, locked: rec.UserLocked}, nil
}

// RequireAuth rejects requests without a valid access token, and those of
// locked accounts, and puts the caller's session in the request context.
func (a *API) RequireAuth(next http.Handler) http.Handler {
	return a.requireAuth(next, false)
}

// requireAuthLocked is RequireAuth that also serves locked accounts: the
// spec leaves them /logout and /logout/all.
func (a *API) requireAuthLocked(next http.Handler) http.Handler {
	return a.requireAuth(next, true)
}

func (a *API) requireAuth(next http.Handler, allowLocked bool) http.Handler {
	a.initOnce.Do(a.init)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, err := a.authenticate(r)
		if err == nil && sess.locked && !allowLocked {
			err = userLocked()
		}
		if err != nil {
			mxhttp.WriteError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, sess)))
	})
}

// optionalAuth is RequireAuth for endpoints that also serve callers
// without a token; a token that is present must still be valid.
func (a *API) optionalAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !hasCredentials(r) {
			next.ServeHTTP(w, r)
			return
		}
		a.RequireAuth(next).ServeHTTP(w, r)
	})
}

// noGuests refuses guest accounts on endpoints the guest access module
// does not open to them.
func (a *API) noGuests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, ok := SessionFrom(r.Context())
		if ok {
			guest, err := a.isGuest(r.Context(), sess.UserID)
			if err == nil && guest {
				err = guestForbidden()
			}
			if err != nil {
				writeError(w, r, err)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// maxKnownNonGuests bounds the users isGuest remembers.
const maxKnownNonGuests = 20000

// isGuest reads the account, except for users already known not to be
// guests: a guest may be upgraded to a full account, never the other way,
// so "not a guest" can be remembered. That saves a query on every send
// and join.
func (a *API) isGuest(ctx context.Context, userID string) (bool, error) {
	if _, ok := a.nonGuests.Get(userID); ok {
		return false, nil
	}
	user, err := a.Store.GetUser(ctx, userID)
	if err == nil && !user.IsGuest {
		a.nonGuests.Put(userID, struct{}{})
	}
	return user.IsGuest, err
}

func guestForbidden() error {
	return mxcore.NewError(http.StatusForbidden, mxcore.ErrGuestAccessForbidden, "Guest accounts cannot use this endpoint")
}

// maxConfirmedTokens bounds the memory of tokens known to need no
// confirmation.
const maxConfirmedTokens = 100_000

// confirmRefreshed revokes the token a refreshed token replaced, the first
// time the new one is used, as the spec's refresh rules ask. Only tokens
// that came with a refresh token can have one; the set remembers those
// already checked so each costs one storage round trip per process.
func (a *API) confirmRefreshed(ctx context.Context, rec storage.AccessToken) error {
	if len(rec.RefreshTokenHash) == 0 || a.confirmed.has(rec.TokenHash) {
		return nil
	}
	if err := a.Store.ConfirmRefreshedToken(ctx, rec.TokenHash); err != nil {
		return err
	}
	a.confirmed.add(rec.TokenHash)
	return nil
}

// touchDevice records when and from where a device was used. The spec
// allows these to be a few minutes stale, so writes are throttled per
// device; a failure only costs freshness and is logged.
func (a *API) touchDevice(r *http.Request, rec storage.AccessToken) {
	now := a.now()
	ip := clientIP(r)
	if !a.seen.due(rec.UserID+"|"+rec.DeviceID, ip, now) {
		return
	}
	err := a.Store.TouchDevice(r.Context(), rec.UserID, rec.DeviceID, now.UnixMilli(), ip)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		slog.WarnContext(r.Context(), "recording device last seen", "err", err)
	}
}

func (a *API) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}
