package clientapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/internal/secrets"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

// OpenID tokens (openid.yaml): a user hands one to a third party, which
// asks this server's federation endpoint openid/userinfo whose it is. The
// token is random, stored only as its SHA-256, and expires.

const (
	openIDTokenLifetime = time.Hour
	openIDTokenPrefix   = "oid_"
)

func (a *API) mountOpenID(r chi.Router) {
	r.Post("/user/{userId}/openid/request_token", a.handle(a.requestOpenIDToken))
}

func (a *API) requestOpenIDToken(r *http.Request) (any, error) {
	user := roomCaller(r).UserID
	if roomPathParam(r, "userId") != user {
		return nil, mxcore.Forbidden("You may only request OpenID tokens for yourself")
	}
	var body map[string]any
	if err := mxhttp.DecodeJSON(r, &body); err != nil {
		return nil, err
	}
	if err := a.limitStoredWrite(user); err != nil {
		return nil, err
	}
	token, err := secrets.NewToken(openIDTokenPrefix)
	if err != nil {
		return nil, err
	}
	now := a.now()
	expires := now.Add(openIDTokenLifetime).UnixMilli()
	if err := a.Store.AddOpenIDToken(r.Context(), secrets.HashToken(token), user, expires, now.UnixMilli()); err != nil {
		return nil, err
	}
	return map[string]any{
		"access_token": token, "token_type": "Bearer",
		"matrix_server_name": a.ServerName, "expires_in": int64(openIDTokenLifetime / time.Second),
	}, nil
}

// OpenIDUserInfo returns the user an OpenID token was issued to, for the
// federation endpoint /openid/userinfo; 401 M_UNKNOWN_TOKEN if the token
// is unknown or expired.
func (a *API) OpenIDUserInfo(ctx context.Context, token string) (string, error) {
	if token == "" {
		return "", mxcore.NewError(http.StatusUnauthorized, "M_UNKNOWN_TOKEN", "Missing access_token")
	}
	user, err := a.Store.OpenIDTokenUser(ctx, secrets.HashToken(token), a.now().UnixMilli())
	if errors.Is(err, storage.ErrNotFound) {
		return "", mxcore.NewError(http.StatusUnauthorized, "M_UNKNOWN_TOKEN", "Unknown or expired access token")
	}
	return user, err
}
