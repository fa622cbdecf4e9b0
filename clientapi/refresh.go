package clientapi

import (
	"errors"
	"net/http"

	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/internal/secrets"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

type refreshResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresInMs  int64  `json:"expires_in_ms"`
}

// refresh swaps a refresh token for a new access token and a new refresh
// token on the same device. The old refresh token keeps working until one
// of the new tokens is used (see storage.AccountStore.RotateRefreshToken),
// so a client that lost this response can ask again.
func (a *API) refresh(r *http.Request) (any, error) {
	var req refreshRequest
	if err := mxhttp.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	if req.RefreshToken == "" {
		return nil, mxcore.MissingParam("Missing refresh_token")
	}
	oldHash := secrets.HashToken(req.RefreshToken)
	old, err := a.Store.LookupRefreshToken(r.Context(), oldHash)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, unknownRefreshToken()
	}
	if err != nil {
		return nil, err
	}
	if err := a.refuseLocked(r, old.UserID); err != nil {
		return nil, err
	}
	issued, err := a.newTokens(true)
	if err != nil {
		return nil, err
	}
	next := issued.record(old.UserID, old.DeviceID)
	err = a.Store.RotateRefreshToken(r.Context(), oldHash, next, issued.createdTS)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, unknownRefreshToken() // revoked meanwhile
	}
	if err != nil {
		return nil, err
	}
	return refreshResponse{AccessToken: issued.access, RefreshToken: issued.refresh, ExpiresInMs: issued.expiresInMs}, nil
}

// unknownRefreshToken answers a refresh token that never existed, was
// replaced and its successor used, or whose device was logged out: the
// session is gone, so this is not a soft logout.
func unknownRefreshToken() error {
	return mxcore.UnknownToken("Unknown or revoked refresh token", false)
}
