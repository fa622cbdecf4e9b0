package federation

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/warbler-im/warbler/internal/mxhttp"
)

// OpenIDUserInfo names the user an OpenID token was issued to; it fails
// with a Matrix error (401 M_UNKNOWN_TOKEN) for tokens it does not know.
type OpenIDUserInfo func(ctx context.Context, token string) (string, error)

// mountOpenID registers GET /openid/userinfo, which a third party calls
// with a token a user gave it. It takes no X-Matrix signature (the caller
// need not be a homeserver), so it sits outside the authenticated subtree.
func (rt *Routes) mountOpenID(r chi.Router) {
	if rt.OpenID == nil {
		return
	}
	r.Get("/_matrix/federation/v1/openid/userinfo", mxhttp.JSON(func(req *http.Request) (any, error) {
		user, err := rt.OpenID(req.Context(), req.URL.Query().Get("access_token"))
		if err != nil {
			return nil, err
		}
		return map[string]string{"sub": user}, nil
	}))
}
