package loadtest

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"time"
)

type user struct {
	localpart string
	userID    string
	token     string
}

// registerUsers creates and logs in every user; failures leave a nil slot,
// and the survivors are returned in order.
func (r *runner) registerUsers(ctx context.Context) []*user {
	slots := make([]*user, r.cfg.Users)
	parallel(ctx, r.cfg.Users, r.cfg.Concurrency, "register", r.cfg.Progress, func(i int) {
		localpart := r.cfg.UserPrefix + "-" + itoa(i)
		start := time.Now()
		if err := r.register(ctx, localpart); err != nil {
			return
		}
		r.stats.register.add(time.Since(start))
		start = time.Now()
		u, err := r.login(ctx, localpart)
		if err != nil {
			return
		}
		r.stats.login.add(time.Since(start))
		slots[i] = u
	})
	var users []*user
	for _, u := range slots {
		if u != nil {
			users = append(users, u)
		}
	}
	return users
}

func (r *runner) register(ctx context.Context, localpart string) error {
	if r.cfg.Registration == RegSharedSecret {
		return r.registerSharedSecret(ctx, localpart)
	}
	return r.registerDummy(ctx, localpart)
}

// registerDummy does the two-step user-interactive auth: the first POST
// only opens a session (its 401 is expected, so it is not counted as an
// error), the second completes the m.login.dummy stage.
func (r *runner) registerDummy(ctx context.Context, localpart string) error {
	body := map[string]any{"username": localpart, "password": r.password, "inhibit_login": true}
	err := r.c.do(ctx, "POST", clientV3+"/register", "", body, nil)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 401 {
		if err == nil {
			return nil // a server without UIA registered us straight away
		}
		r.c.errs.add(errCode(err))
		return err
	}
	body["auth"] = map[string]any{"type": "m.login.dummy", "session": apiErr.Session}
	return r.c.call(ctx, "POST", clientV3+"/register", "", body, nil)
}

// registerSharedSecret speaks the Synapse admin API that provisioning
// tools use: a nonce, then an HMAC-SHA1 over the account's fields.
func (r *runner) registerSharedSecret(ctx context.Context, localpart string) error {
	const path = "/_synapse/admin/v1/register"
	var nonce struct {
		Nonce string `json:"nonce"`
	}
	if err := r.c.call(ctx, "GET", path, "", nil, &nonce); err != nil {
		return err
	}
	mac := hmac.New(sha1.New, []byte(r.cfg.SharedSecret))
	mac.Write([]byte(nonce.Nonce + "\x00" + localpart + "\x00" + r.password + "\x00notadmin"))
	body := map[string]any{
		"nonce": nonce.Nonce, "username": localpart, "password": r.password,
		"admin": false, "mac": hex.EncodeToString(mac.Sum(nil)),
	}
	return r.c.call(ctx, "POST", path, "", body, nil)
}

func (r *runner) login(ctx context.Context, localpart string) (*user, error) {
	body := map[string]any{
		"type":       "m.login.password",
		"identifier": map[string]any{"type": "m.id.user", "user": localpart},
		"password":   r.password,
	}
	var out struct {
		UserID      string `json:"user_id"`
		AccessToken string `json:"access_token"`
	}
	if err := r.c.call(ctx, "POST", clientV3+"/login", "", body, &out); err != nil {
		return nil, err
	}
	return &user{localpart: localpart, userID: out.UserID, token: out.AccessToken}, nil
}
