package federation

import (
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/policy"
)

// The egress wrapper is how a federation route that serves data (room
// events and state, media, profiles, device keys) is registered. The
// handler does its own checks (ACL, membership, history visibility) and
// hands back what it would send and what it is about; the wrapper asks
// the policy Decider and writes the body only when the decision allows.
// So a handler registered this way cannot send anything the policy has
// not seen, and the route enumeration test (egress_test.go) fails for any
// data route registered otherwise.
//
// To add a data route, inside authenticatedRouter:
//
//	rt.egress(r, http.MethodGet, "/v1/state/{roomId}", policy.ActionServeRoomData, rt.serveState)
//
// where serveState returns an *Egress naming RoomID (and/or UserID) with
// the JSON body, or with Write for a non-JSON body.

// federationPrefix is where the authenticated router is mounted; the
// policy sees full route patterns.
const federationPrefix = "/_matrix/federation"

// Egress is a data-serving handler's answer: the response it would send
// and what the response is about.
type Egress struct {
	// RoomID, UserID and EventType fill the policy input; set what the
	// response reveals (a room's data, a user's profile or media owner).
	RoomID, UserID, EventType string
	// JSON is the 200 response body, unless Write is set.
	JSON any
	// Write sends a non-JSON response (media). It runs only after the
	// policy allowed the egress.
	Write func(w http.ResponseWriter, r *http.Request)
	// Close, if set, releases what the handler opened for Write; it runs
	// once the request is answered, whether the policy allowed it or not.
	Close func()
}

// EgressHandler serves a data route; errors are written as Matrix errors.
type EgressHandler func(r *http.Request) (*Egress, error)

// egress registers h for method and pattern on r (the authenticated
// router) behind the policy decision, and records the route as declared.
func (rt *Routes) egress(r chi.Router, method, pattern string, action policy.Action, h EgressHandler) {
	if rt.egressRoutes == nil {
		rt.egressRoutes = map[string]policy.Action{}
	}
	rt.egressRoutes[routeKey(method, pattern)] = action
	route := federationPrefix + pattern
	r.Method(method, pattern, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		out, err := h(req)
		if err == nil && out.Close != nil {
			defer out.Close()
		}
		if err == nil {
			err = rt.decideEgress(req, action, route, out)
		}
		if err != nil {
			mxhttp.WriteError(w, req, err)
			return
		}
		if out.Write != nil {
			out.Write(w, req)
			return
		}
		mxhttp.WriteJSON(w, http.StatusOK, out.JSON)
	}))
}

// decideEgress asks the Decider; a nil Decider denies (fail closed), as
// does a policy that cannot be evaluated.
func (rt *Routes) decideEgress(r *http.Request, action policy.Action, route string, out *Egress) error {
	in := policy.Input{
		Action: action, Server: Origin(r.Context()), Route: route,
		RoomID: out.RoomID, UserID: out.UserID, EventType: out.EventType,
	}
	ok, reasons := false, []string{"no policy decider is configured"}
	if rt.Policy != nil {
		ok, reasons = policy.Allowed(r.Context(), rt.Policy, in)
	}
	if ok {
		return nil
	}
	slog.InfoContext(r.Context(), "federation egress denied by policy",
		"action", action, "server", in.Server, "route", route, "room_id", in.RoomID, "user_id", in.UserID, "reasons", reasons)
	return mxcore.Forbidden("This server's data policy does not allow serving this to " + in.Server)
}

func routeKey(method, pattern string) string { return method + " " + pattern }

// EgressRoutes lists the routes registered through the egress wrapper
// ("METHOD pattern" → action), for the route enumeration test and for
// documentation of the decision points.
func (rt *Routes) EgressRoutes() map[string]policy.Action {
	out := make(map[string]policy.Action, len(rt.egressRoutes))
	for k, v := range rt.egressRoutes {
		out[k] = v
	}
	return out
}
