package clientapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/warbler-im/warbler/internal/ratelimit"
	"github.com/warbler-im/warbler/internal/secrets"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

// Login tokens (login_token.yaml): a logged-in user proves their password
// again and gets a token that logs one more client in with m.login.token.
// Tokens are stored hashed, expire after the configured lifetime and are
// deleted by the login that uses them, so each logs in at most once.

const (
	loginTypeToken   = "m.login.token"
	loginTokenPrefix = "wlt_"
	// The spec asks for stricter limits than usual here (its example is
	// one a minute): each token is a new way into the account.
	loginTokensPerSecond = 1.0 / 60
	loginTokensBurst     = 2
)

// LoginTokenOptions configures POST /login/get_token.
type LoginTokenOptions struct {
	Enabled  bool
	Lifetime time.Duration // 0 means 2 minutes, the spec's recommendation
}

// loginTokenState is the per-user issuing budget; its zero value is ready.
type loginTokenState struct {
	once   sync.Once
	issued *ratelimit.Limiter
}

func (a *API) loginTokenLifetime() time.Duration {
	if a.LoginTokens.Lifetime > 0 {
		return a.LoginTokens.Lifetime
	}
	return 2 * time.Minute
}

// getLoginToken implements POST /login/get_token. Off, the server does not
// offer the endpoint at all (the spec makes it optional). Every call runs
// the password stage anew: UIA sessions end with the request they
// authorise, which is the spec's "always re-prompt".
func (a *API) getLoginToken(r *http.Request) (any, error) {
	if !a.LoginTokens.Enabled {
		return nil, mxcore.Unrecognized(http.StatusNotFound, "Login tokens are not enabled on this server")
	}
	var req struct {
		Auth json.RawMessage `json:"auth"`
	}
	if err := decodeOptionalJSON(r, &req); err != nil {
		return nil, err
	}
	operation, accountID, _ := accountOperation(r, "get login token")
	sess, err := a.interactiveAuth(r, uiaRequest{operation: operation, flows: passwordFlows, auth: req.Auth, accountID: accountID})
	if err != nil {
		return nil, err
	}
	resp, err := a.issueLoginToken(r, sess.userID)
	a.uia.finish(sess, err == nil)
	return resp, err
}

func (a *API) issueLoginToken(r *http.Request, userID string) (any, error) {
	a.loginTokens.once.Do(func() {
		a.loginTokens.issued = ratelimit.NewWithClock(loginTokensPerSecond, loginTokensBurst, ratelimit.DefaultMaxKeys, a.now)
	})
	if err := limited(a.loginTokens.issued, userID); err != nil {
		return nil, err
	}
	token, err := secrets.NewToken(loginTokenPrefix)
	if err != nil {
		return nil, err
	}
	now := a.now()
	lifetime := a.loginTokenLifetime()
	expires := now.Add(lifetime).UnixMilli()
	if err := a.Store.AddLoginToken(r.Context(), secrets.HashToken(token), userID, expires, now.UnixMilli()); err != nil {
		return nil, err
	}
	return map[string]any{"login_token": token, "expires_in_ms": lifetime.Milliseconds()}, nil
}

// tokenLogin checks an m.login.token login and returns the user it proves.
// An unknown, used or expired token is 403 M_FORBIDDEN, as for a wrong
// password.
func (a *API) tokenLogin(r *http.Request, token string) (string, error) {
	if token == "" {
		return "", mxcore.MissingParam("Missing token")
	}
	userID, err := a.Store.TakeLoginToken(r.Context(), secrets.HashToken(token), a.now().UnixMilli())
	if errors.Is(err, storage.ErrNotFound) {
		return "", mxcore.Forbidden("Invalid or expired login token")
	}
	if err != nil {
		return "", err
	}
	user, err := a.Store.GetUser(r.Context(), userID)
	if err != nil {
		return "", err
	}
	if user.Deactivated {
		return "", userDeactivated()
	}
	return userID, nil
}
