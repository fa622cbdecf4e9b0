package clientapi

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/warbler-im/warbler/mxcore"
)

// The two client-server endpoints only application services may call: the
// ping (appservice_ping.yaml) and the per-network room directory
// (appservice_room_directory.yaml). Both authenticate with an
// application service's as_token. Warbler registers no application services
// yet (the appservice package does not exist), so no access token can be an
// as_token and the spec's answer for every caller is 403 M_FORBIDDEN. When
// registrations land, these handlers look the token up among them instead.

func (a *API) mountAppserviceEndpoints(r chi.Router) {
	r.Group(func(r chi.Router) {
		r.Use(a.RequireAuth)
		r.Post("/_matrix/client/v1/appservice/{appserviceId}/ping", a.handle(a.appservicePing))
		r.Put("/_matrix/client/{apiVersion:v3|r0}/directory/list/appservice/{networkId}/{roomId}", a.handle(a.appserviceDirectory))
	})
}

// errNotAppservice is the spec's answer to a token that is not the named
// application service's as_token.
func errNotAppservice() error {
	return mxcore.Forbidden("The access token is not an application service's as_token")
}

func (a *API) appservicePing(*http.Request) (any, error) { return nil, errNotAppservice() }

func (a *API) appserviceDirectory(*http.Request) (any, error) { return nil, errNotAppservice() }
