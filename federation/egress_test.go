package federation

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/warbler-im/warbler/policy"
)

// nonDataRoutes are the federation routes that move no data a residency
// policy governs: public server keys, the version, discovery, and inbound
// requests (data coming in). A route is added here only with a reason;
// anything serving room data, media, profiles or device keys must go
// through Routes.egress instead.
var nonDataRoutes = map[string]string{
	"GET /_matrix/key/v2/server":              "this server's public signing keys",
	"GET /_matrix/key/v2/query/{serverName}":  "public signing keys (notary)",
	"POST /_matrix/key/v2/query":              "public signing keys (notary)",
	"GET /_matrix/federation/v1/version":      "server software version",
	"GET /.well-known/matrix/server":          "server discovery",
	"PUT /_matrix/federation/v1/send/{txnId}": "inbound transaction: data comes in",
	// The membership routes decide per request (the action depends on the
	// event: join, leave, knock, invite) through Membership.allowed before
	// anything is read; TestMembershipRoutesAskPolicy walks them all
	// with a denying policy.
	"GET /_matrix/federation/v1/make_join/{roomId}/{userId}":   "asks the policy in its handler (ActionJoin)",
	"PUT /_matrix/federation/v2/send_join/{roomId}/{eventId}":  "asks the policy in its handler (ActionJoin)",
	"PUT /_matrix/federation/v1/send_join/{roomId}/{eventId}":  "asks the policy in its handler (ActionJoin)",
	"PUT /_matrix/federation/v1/send_leave/{roomId}/{eventId}": "asks the policy in its handler (ActionLeave)",
	"PUT /_matrix/federation/v1/invite/{roomId}/{eventId}":     "asks the policy in its handler (ActionInvite)",
	"GET /_matrix/federation/v1/make_leave/{roomId}/{userId}":  "asks the policy in its handler (ActionLeave)",
	"PUT /_matrix/federation/v2/send_leave/{roomId}/{eventId}": "asks the policy in its handler (ActionLeave)",
	"GET /_matrix/federation/v1/make_knock/{roomId}/{userId}":  "asks the policy in its handler (ActionKnock)",
	"PUT /_matrix/federation/v1/send_knock/{roomId}/{eventId}": "asks the policy in its handler (ActionKnock)",
	"PUT /_matrix/federation/v2/invite/{roomId}/{eventId}":     "asks the policy in its handler (ActionInvite)",
	"GET /_matrix/federation/v1/query/directory":               "asks the policy in its handler (ActionServeRoomData)",
}

// undeclaredRoutes walks a router and returns the "METHOD pattern" of
// every route neither registered through the egress wrapper (declared,
// keyed by the pattern under prefix) nor listed in allowed.
func undeclaredRoutes(t *testing.T, r chi.Routes, prefix string, declared map[string]policy.Action, allowed map[string]string) []string {
	t.Helper()
	var bad []string
	err := chi.Walk(r, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		route = strings.TrimSuffix(route, "/") // chi.Walk reports subrouter roots with a trailing slash
		if route == "" {
			route = "/"
		}
		key := method + " " + prefix + route
		if _, ok := declared[method+" "+route]; ok {
			return nil
		}
		if _, ok := allowed[key]; ok {
			return nil
		}
		bad = append(bad, key)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(bad)
	return bad
}

// TestEveryDataRoutePassesThePolicy enumerates the federation routes, with
// every optional part configured, and fails for any route that serves
// data without the egress wrapper's policy decision.
func TestEveryDataRoutePassesThePolicy(t *testing.T) {
	rt := &Routes{
		Keys: &KeyServer{ServerName: readServer}, Notary: &Notary{}, Auth: &Authenticator{},
		WellKnownServer: "a.example:443", Policy: policy.AllowAll{},
		Reads:      &ReadSources{Profiles: profileStub{}, Media: mediaStub{}},
		Membership: &Membership{}, Directory: directoryStub{}, UserKeys: userKeysStub{},
	}
	authenticated := rt.authenticatedRouter()
	if bad := undeclaredRoutes(t, authenticated, federationPrefix, rt.EgressRoutes(), nonDataRoutes); len(bad) > 0 {
		t.Fatalf("federation routes that bypass the policy seam (register them with rt.egress, or list them in nonDataRoutes with a reason): %v", bad)
	}
	// The unauthenticated routes live on the outer router; the federation
	// subtree is mounted behind the signature check, which chi.Walk cannot
	// look into, so it was walked above.
	outer := chi.NewRouter()
	rt.Mount(outer)
	var outside []string
	for _, key := range undeclaredRoutes(t, outer, "", nil, nonDataRoutes) {
		if !strings.HasSuffix(key, " "+federationPrefix+"/*") { // the mount point walked above
			outside = append(outside, key)
		}
	}
	if len(outside) > 0 {
		t.Fatalf("unauthenticated routes that bypass the policy seam: %v", outside)
	}
	for _, want := range []string{
		"GET /v1/event/{eventId}", "GET /v1/state/{roomId}", "GET /v1/state_ids/{roomId}",
		"GET /v1/event_auth/{roomId}/{eventId}", "GET /v1/backfill/{roomId}",
		"POST /v1/get_missing_events/{roomId}", "GET /v1/query/profile",
		"GET /v1/media/download/{mediaId}", "GET /v1/media/thumbnail/{mediaId}",
		"GET /v1/hierarchy/{roomId}", "GET /v1/publicRooms", "POST /v1/publicRooms",
		"GET /v1/user/devices/{userId}", "POST /v1/user/keys/query", "POST /v1/user/keys/claim",
	} {
		if _, ok := rt.EgressRoutes()[want]; !ok {
			t.Errorf("%s is not declared through the egress wrapper", want)
		}
	}
}

// TestRouteEnumerationCatchesABypass shows the check failing: a data
// route registered directly on the router, beside one registered through
// the wrapper, is reported.
func TestRouteEnumerationCatchesABypass(t *testing.T) {
	rt := &Routes{Policy: policy.AllowAll{}}
	r := chi.NewRouter()
	rt.egress(r, http.MethodGet, "/v1/state/{roomId}", policy.ActionServeRoomData, func(*http.Request) (*Egress, error) {
		return &Egress{JSON: map[string]any{}}, nil
	})
	r.Get("/v1/state_ids/{roomId}", func(http.ResponseWriter, *http.Request) {}) // bypasses the seam
	r.Route("/v1/user", func(r chi.Router) {
		r.Get("/devices/{userId}", func(http.ResponseWriter, *http.Request) {}) // in a subrouter, too
	})
	bad := undeclaredRoutes(t, r, federationPrefix, rt.EgressRoutes(), nonDataRoutes)
	want := []string{
		"GET /_matrix/federation/v1/state_ids/{roomId}",
		"GET /_matrix/federation/v1/user/devices/{userId}",
	}
	if !slices.Equal(bad, want) {
		t.Fatalf("undeclared = %v, want %v", bad, want)
	}
}

type profileStub struct{ ProfileReader }
type mediaStub struct{ MediaSource }
type directoryStub struct{ PublicDirectory }
