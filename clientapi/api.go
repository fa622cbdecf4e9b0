package clientapi

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

// Store is what the client API needs from storage so far.
type Store interface {
	storage.UserStore
	storage.DeviceStore
	storage.TokenStore
}

// API holds the client-server endpoints' dependencies.
type API struct {
	ServerName string
	Store      Store
	// ClientBaseURL is served in /.well-known/matrix/client; empty answers 404.
	ClientBaseURL string
	Now           func() time.Time
}

// specVersions lists the spec versions whose client-server API Warbler
// implements completely. It starts empty: a version is added only when every
// endpoint it requires holds (accounts, rooms and /sync are not done yet),
// because clients trust this list to decide what they may call.
var specVersions = []string{}

// Mount registers the client-server endpoints on r.
func (a *API) Mount(r chi.Router) {
	r.Get("/_matrix/client/versions", mxhttp.JSON(versions))
	r.Get("/.well-known/matrix/client", mxhttp.JSON(a.wellKnownClient))
	r.Route("/_matrix/client/{apiVersion:v3|r0}", func(r chi.Router) {
		r.Get("/login", mxhttp.JSON(loginFlows))
		r.Post("/login", mxhttp.JSON(a.login))
		r.Group(func(r chi.Router) {
			r.Use(a.RequireAuth)
			r.Get("/account/whoami", mxhttp.JSON(a.whoami))
			r.Post("/logout", mxhttp.JSON(a.logout))
			r.Post("/logout/all", mxhttp.JSON(a.logoutAll))
		})
	})
}

func versions(*http.Request) (any, error) {
	return map[string]any{"versions": specVersions, "unstable_features": map[string]bool{}}, nil
}

func (a *API) wellKnownClient(*http.Request) (any, error) {
	if a.ClientBaseURL == "" {
		return nil, mxcore.NotFound("No client discovery information is configured")
	}
	return map[string]any{"m.homeserver": map[string]string{"base_url": a.ClientBaseURL}}, nil
}
