package federation

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/internal/version"
	"github.com/warbler-im/warbler/mxcore"
)

// Routes holds what the federation endpoints need.
type Routes struct {
	Keys *KeyServer
	// WellKnownServer is the delegated "m.server" value; empty answers 404.
	WellKnownServer string
}

// Mount registers the federation and key endpoints on r.
func (rt *Routes) Mount(r chi.Router) {
	r.Method(http.MethodGet, "/_matrix/key/v2/server", rt.Keys)
	r.Get("/_matrix/federation/v1/version", mxhttp.JSON(serverVersion))
	r.Get("/.well-known/matrix/server", mxhttp.JSON(rt.wellKnownServer))
}

func serverVersion(*http.Request) (any, error) {
	return map[string]any{"server": map[string]string{"name": "Warbler", "version": version.String()}}, nil
}

func (rt *Routes) wellKnownServer(*http.Request) (any, error) {
	if rt.WellKnownServer == "" {
		return nil, mxcore.NotFound("No server delegation is configured")
	}
	return map[string]string{"m.server": rt.WellKnownServer}, nil
}
