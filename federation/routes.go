package federation

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/internal/version"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/policy"
)

// Routes holds what the federation endpoints need.
type Routes struct {
	Keys *KeyServer
	// Notary serves other servers' keys; nil leaves the query endpoints out.
	Notary *Notary
	// Auth verifies the signature of every request under
	// /_matrix/federation/ except the unauthenticated endpoints.
	Auth *Authenticator
	// WellKnownServer is the delegated "m.server" value; empty answers 404.
	WellKnownServer string
	// Inbound receives transactions (/send); nil leaves it out. It is
	// mounted by MountOwnLimits, outside the generic body limit.
	Inbound *Inbound
	// Policy decides every egress of data (egress.go); nil denies.
	Policy policy.Decider
	// Reads is what the reading endpoints serve from; nil leaves them out.
	Reads *ReadSources
	// Directory serves /publicRooms (hierarchy.go); nil leaves it out.
	Directory PublicDirectory
	// OpenID serves /openid/userinfo (openid.go); nil leaves it out.
	OpenID OpenIDUserInfo

	egressRoutes map[string]policy.Action // routes registered through egress
	// UserKeys serves local users' device lists and keys (e2ee_serve.go);
	// nil leaves those endpoints out.
	UserKeys LocalKeys
	// Membership serves joins, leaves, invites, knocks and the directory
	// query; nil leaves them out.
	Membership *Membership
}

// Mount registers the federation and key endpoints on r.
//
// The key endpoints, the version and .well-known take no signature. Every
// other path under /_matrix/federation/ passes the X-Matrix check before
// routing, so an unsigned request gets 401 M_UNAUTHORIZED whatever the
// endpoint, and a signed one for an unknown endpoint 404 M_UNRECOGNIZED.
// Endpoints that take no X-Matrix signature (the version here, and
// openid/userinfo, which carries a token instead) are registered on r
// itself, whose exact routes win over the authenticated subtree.
func (rt *Routes) Mount(r chi.Router) {
	r.Method(http.MethodGet, "/_matrix/key/v2/server", rt.Keys)
	if rt.Notary != nil {
		r.Get("/_matrix/key/v2/query/{serverName}", mxhttp.JSON(rt.Notary.ServeQueryOne))
		r.Post("/_matrix/key/v2/query", mxhttp.JSON(rt.Notary.ServeQuery))
	}
	r.Get("/_matrix/federation/v1/version", mxhttp.JSON(serverVersion))
	r.Get("/.well-known/matrix/server", mxhttp.JSON(rt.wellKnownServer))
	rt.mountOpenID(r) // openid.go
	if rt.Auth != nil {
		// Wrapped from outside rather than with Use: a chi router runs its
		// middleware only once it has a route, and unknown paths must be
		// authenticated too.
		r.Mount("/_matrix/federation", rt.Auth.Middleware(rt.authenticatedRouter()))
	}
}

// authenticatedRouter holds the endpoints that require X-Matrix.
func (rt *Routes) authenticatedRouter() chi.Router {
	r := chi.NewRouter()
	r.NotFound(mxhttp.NotFound)
	r.MethodNotAllowed(mxhttp.MethodNotAllowed)
	rt.mountReads(r)
	rt.mountDiscovery(r) // hierarchy.go
	rt.mountUserKeys(r)
	rt.Membership.mount(r)
	return r
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
