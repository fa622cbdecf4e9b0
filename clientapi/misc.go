package clientapi

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/warbler-im/warbler/internal/ratelimit"
)

// Smaller endpoints clients call early: third-party identifiers, TURN
// credentials, OpenID tokens and content reports.

// TURNOptions configure /voip/turnServer. Without URIs or a secret the
// server offers no TURN server.
type TURNOptions struct {
	URIs         []string
	SharedSecret string
	UserLifetime time.Duration
}

// Each stored report and OpenID token is a row a user adds at will, so
// both share a per-user budget: a burst, then one a second on average.
const (
	storedWritesPerSecond = 1
	storedWritesBurst     = 20
)

// miscState holds this file's in-memory state; its zero value is ready.
type miscState struct {
	once   sync.Once
	writes *ratelimit.Limiter
}

// limitStoredWrite charges one report or OpenID token to the user's
// budget: 429 M_LIMIT_EXCEEDED when it is spent.
func (a *API) limitStoredWrite(userID string) error {
	a.misc.once.Do(func() {
		a.misc.writes = ratelimit.NewWithClock(storedWritesPerSecond, storedWritesBurst, ratelimit.DefaultMaxKeys, a.now)
	})
	return limited(a.misc.writes, userID)
}

// mountMisc registers this file's endpoints (and openid.go's and
// report.go's) on the authenticated router.
func (a *API) mountMisc(r chi.Router) {
	a.mountThreePID(r) // threepid.go
	r.Get("/voip/turnServer", a.handle(a.turnServer))
	r.Group(func(r chi.Router) {
		r.Use(a.noGuests)
		a.mountOpenID(r)
		a.mountReports(r)
	})
}

// turnServer implements GET /voip/turnServer with TURN REST API
// credentials: the username is "<expiry unix seconds>:<user ID>", the
// password the base64 HMAC-SHA1 of the username under the shared secret,
// which the TURN server checks with the same secret.
func (a *API) turnServer(r *http.Request) (any, error) {
	t := a.TURN
	if len(t.URIs) == 0 || t.SharedSecret == "" {
		return struct{}{}, nil
	}
	lifetime := t.UserLifetime
	if lifetime <= 0 {
		lifetime = time.Hour
	}
	sess, _ := SessionFrom(r.Context())
	username := strconv.FormatInt(a.now().Add(lifetime).Unix(), 10) + ":" + sess.UserID
	mac := hmac.New(sha1.New, []byte(t.SharedSecret))
	mac.Write([]byte(username))
	return map[string]any{
		"username": username,
		"password": base64.StdEncoding.EncodeToString(mac.Sum(nil)),
		"uris":     t.URIs,
		"ttl":      int64(lifetime / time.Second),
	}, nil
}
