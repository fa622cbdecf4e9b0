package clientapi

import (
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

// GET /admin/whois (admin.yaml) and the third-party lookups
// (third_party_lookup.yaml). Warbler has no bridges (application services
// that would declare protocols), so the lookups answer as a server with
// no third-party networks: no protocols, and every protocol unknown.

func (a *API) mountAdminLookups(r chi.Router) {
	r.Get("/admin/whois/{userId}", a.handle(a.whois))
	r.Get("/thirdparty/protocols", a.handle(thirdPartyProtocols))
	r.Get("/thirdparty/protocol/{protocol}", a.handle(unknownThirdParty))
	r.Get("/thirdparty/location/{protocol}", a.handle(unknownThirdParty))
	r.Get("/thirdparty/user/{protocol}", a.handle(unknownThirdParty))
	r.Get("/thirdparty/location", a.handle(unknownThirdParty))
	r.Get("/thirdparty/user", a.handle(unknownThirdParty))
}

func thirdPartyProtocols(*http.Request) (any, error) { return map[string]any{}, nil }

func unknownThirdParty(*http.Request) (any, error) {
	return nil, mxcore.NotFound("No third-party networks are bridged to this server")
}

type whoisConnection struct {
	IP        string `json:"ip,omitempty"`
	LastSeen  int64  `json:"last_seen,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
}

type whoisSession struct {
	Connections []whoisConnection `json:"connections"`
}

// whois answers for the caller themself or for a server admin; the
// sessions are the user's devices with where and when they were last
// seen (user agents are not recorded).
func (a *API) whois(r *http.Request) (any, error) {
	ctx := r.Context()
	target := roomPathParam(r, "userId")
	sess, _ := SessionFrom(ctx)
	if target != sess.UserID {
		caller, err := a.Store.GetUser(ctx, sess.UserID)
		if err != nil {
			return nil, err
		}
		if !caller.IsAdmin {
			return nil, mxcore.Forbidden("Only server admins may look up other users")
		}
	}
	if _, err := a.Store.GetUser(ctx, target); errors.Is(err, storage.ErrNotFound) {
		return nil, mxcore.NotFound("Unknown user")
	} else if err != nil {
		return nil, err
	}
	devices, err := a.Store.ListDevices(ctx, target)
	if err != nil {
		return nil, err
	}
	out := make(map[string]any, len(devices))
	for _, d := range devices {
		conns := []whoisConnection{}
		if d.LastSeenTS > 0 || d.LastSeenIP != "" {
			conns = append(conns, whoisConnection{IP: d.LastSeenIP, LastSeen: d.LastSeenTS})
		}
		out[d.DeviceID] = map[string]any{"sessions": []whoisSession{{Connections: conns}}}
	}
	return map[string]any{"user_id": target, "devices": out}, nil
}
