package federation

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/policy"
)

// The key endpoints other servers ask (server-server API, "Device
// Management" and "End-to-End Encryption"): GET /user/devices/{userId},
// POST /user/keys/query and POST /user/keys/claim. They serve this
// server's users only, and each user's keys only where the policy allows
// them to leave for the requesting server.

// DeviceKeysAnswer is an answer to a key query: user → device → keys,
// and the users' master and self-signing keys.
type DeviceKeysAnswer struct {
	DeviceKeys      map[string]map[string]json.RawMessage `json:"device_keys"`
	MasterKeys      map[string]json.RawMessage            `json:"master_keys,omitempty"`
	SelfSigningKeys map[string]json.RawMessage            `json:"self_signing_keys,omitempty"`
}

// UserDevice is one device in a /user/devices answer.
type UserDevice struct {
	DeviceID    string          `json:"device_id"`
	Keys        json.RawMessage `json:"keys"`
	DisplayName string          `json:"device_display_name,omitempty"`
}

// UserDevices is a /user/devices answer.
type UserDevices struct {
	UserID         string          `json:"user_id"`
	StreamID       int64           `json:"stream_id"`
	Devices        []UserDevice    `json:"devices"`
	MasterKey      json.RawMessage `json:"master_key,omitempty"`
	SelfSigningKey json.RawMessage `json:"self_signing_key,omitempty"`
}

// LocalKeys reads this server's users' keys for other servers;
// *clientapi.API is one (adapted in cmd/warbler). Only keys and
// signatures their owners published are handed out.
type LocalKeys interface {
	// QueryLocalKeys answers for local users: user → device IDs (none
	// for all), with unsigned.device_display_name on each device.
	QueryLocalKeys(ctx context.Context, deviceKeys map[string][]string) (DeviceKeysAnswer, error)
	// ClaimLocalKeys claims one-time (else fallback) keys of local
	// devices: user → device → algorithm, answered user → device → key ID → key.
	ClaimLocalKeys(ctx context.Context, claims map[string]map[string]string) (map[string]map[string]map[string]json.RawMessage, error)
	// LocalUserDevices lists a local user's devices that have keys, with
	// the user's stream ID and cross-signing keys.
	LocalUserDevices(ctx context.Context, userID string) (UserDevices, error)
}

// Bounds on one key request from another server.
const (
	maxFedKeyUsers   = 1000
	maxFedKeyDevices = 10000
)

// mountUserKeys registers the key endpoints when a source is set.
func (rt *Routes) mountUserKeys(r chi.Router) {
	if rt.UserKeys == nil {
		return
	}
	rt.egress(r, http.MethodGet, "/v1/user/devices/{userId}", policy.ActionServeKeys, rt.serveUserDevices)
	rt.egress(r, http.MethodPost, "/v1/user/keys/query", policy.ActionServeKeys, rt.serveKeysQuery)
	rt.egress(r, http.MethodPost, "/v1/user/keys/claim", policy.ActionServeKeys, rt.serveKeysClaim)
}

// localUser checks that userID is a user of this server.
func (rt *Routes) localUser(userID string) error {
	u, err := mxcore.ParseUserID(userID)
	if err != nil {
		return mxcore.InvalidParam(userID + " is not a user ID")
	}
	if u.Server != rt.Keys.ServerName {
		return mxcore.InvalidParam(userID + " is not a user of this server")
	}
	return nil
}

// userKeysAllowed asks the policy whether one user's keys may go to the
// requesting server; the endpoints that serve several users leave out
// those it refuses.
func (rt *Routes) userKeysAllowed(r *http.Request, route, userID string) bool {
	if rt.Policy == nil {
		return false
	}
	ok, _ := policy.Allowed(r.Context(), rt.Policy, policy.Input{
		Action: policy.ActionServeKeys, Server: Origin(r.Context()), Route: federationPrefix + route, UserID: userID,
	})
	return ok
}

// serveUserDevices is GET /user/devices/{userId}.
func (rt *Routes) serveUserDevices(r *http.Request) (*Egress, error) {
	userID := chi.URLParam(r, "userId")
	if err := rt.localUser(userID); err != nil {
		return nil, err
	}
	devices, err := rt.UserKeys.LocalUserDevices(r.Context(), userID)
	if err != nil {
		return nil, err
	}
	if devices.Devices == nil {
		devices.Devices = []UserDevice{}
	}
	devices.UserID = userID
	return &Egress{UserID: userID, JSON: devices}, nil
}

// admitKeyRequest bounds a keys query or claim (its users, and the
// entries of all of them, as size counts a user's), refuses one naming a
// user of another server, and leaves out the users the policy does not
// let the origin ask about (route names the request to the policy).
func admitKeyRequest[V any](rt *Routes, r *http.Request, route string, byUser map[string]V, size func(V) int) error {
	total := 0
	for _, v := range byUser {
		total += size(v)
	}
	if err := checkKeyRequestSize(len(byUser), total); err != nil {
		return err
	}
	for userID := range byUser {
		if err := rt.localUser(userID); err != nil {
			return err
		}
		if !rt.userKeysAllowed(r, route, userID) {
			delete(byUser, userID)
		}
	}
	return nil
}

// serveKeysQuery is POST /user/keys/query.
func (rt *Routes) serveKeysQuery(r *http.Request) (*Egress, error) {
	var req struct {
		DeviceKeys map[string][]string `json:"device_keys"`
	}
	if err := mxhttp.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	if req.DeviceKeys == nil {
		return nil, mxcore.MissingParam("device_keys is required")
	}
	err := admitKeyRequest(rt, r, "/v1/user/keys/query", req.DeviceKeys, func(ds []string) int { return len(ds) })
	if err != nil {
		return nil, err
	}
	answer, err := rt.UserKeys.QueryLocalKeys(r.Context(), req.DeviceKeys)
	if err != nil {
		return nil, err
	}
	if answer.DeviceKeys == nil {
		answer.DeviceKeys = map[string]map[string]json.RawMessage{}
	}
	return &Egress{JSON: answer}, nil
}

// serveKeysClaim is POST /user/keys/claim.
func (rt *Routes) serveKeysClaim(r *http.Request) (*Egress, error) {
	var req struct {
		OneTimeKeys map[string]map[string]string `json:"one_time_keys"`
	}
	if err := mxhttp.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	if req.OneTimeKeys == nil {
		return nil, mxcore.MissingParam("one_time_keys is required")
	}
	err := admitKeyRequest(rt, r, "/v1/user/keys/claim", req.OneTimeKeys, func(ds map[string]string) int { return len(ds) })
	if err != nil {
		return nil, err
	}
	keys, err := rt.UserKeys.ClaimLocalKeys(r.Context(), req.OneTimeKeys)
	if err != nil {
		return nil, err
	}
	if keys == nil {
		keys = map[string]map[string]map[string]json.RawMessage{}
	}
	return &Egress{JSON: map[string]any{"one_time_keys": keys}}, nil
}

func checkKeyRequestSize(users, devices int) error {
	if users > maxFedKeyUsers {
		return mxcore.InvalidParam("Too many users in one request")
	}
	if devices > maxFedKeyDevices {
		return mxcore.InvalidParam("Too many devices in one request")
	}
	return nil
}
