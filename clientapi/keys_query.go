package clientapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

// remoteKeysTimeout is how long a query or claim waits for other servers
// when the client names no timeout (the spec recommends 10 seconds).
const (
	remoteKeysTimeout    = 10 * time.Second
	maxRemoteKeysTimeout = 30 * time.Second
)

type queryKeysRequest struct {
	DeviceKeys map[string][]string `json:"device_keys"`
	Timeout    *int64              `json:"timeout"`
}

type queryKeysResponse struct {
	Failures        map[string]any                        `json:"failures"`
	DeviceKeys      map[string]map[string]json.RawMessage `json:"device_keys"`
	MasterKeys      map[string]json.RawMessage            `json:"master_keys"`
	SelfSigningKeys map[string]json.RawMessage            `json:"self_signing_keys"`
	UserSigningKeys map[string]json.RawMessage            `json:"user_signing_keys"`
}

// queryKeys is POST /keys/query.
func (a *API) queryKeys(r *http.Request) (any, error) {
	var req queryKeysRequest
	if err := mxhttp.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	if req.DeviceKeys == nil {
		return nil, mxcore.MissingParam("device_keys is required")
	}
	if err := checkRequestSize(len(req.DeviceKeys), func(yield func(int) bool) {
		for _, ds := range req.DeviceKeys {
			if !yield(len(ds)) {
				return
			}
		}
	}); err != nil {
		return nil, err
	}
	resp := queryKeysResponse{
		Failures: map[string]any{}, DeviceKeys: map[string]map[string]json.RawMessage{},
		MasterKeys: map[string]json.RawMessage{}, SelfSigningKeys: map[string]json.RawMessage{},
		UserSigningKeys: map[string]json.RawMessage{},
	}
	local := map[string][]string{}
	remote := map[string]map[string][]string{}
	for userID, devices := range req.DeviceKeys {
		server := serverOf(userID)
		switch {
		case server == "":
			// Not a user ID: unknown, so missing from the result.
		case server == a.ServerName:
			local[userID] = devices
		default:
			if remote[server] == nil {
				remote[server] = map[string][]string{}
			}
			remote[server][userID] = devices
		}
	}
	caller := roomCaller(r).UserID
	if err := a.localKeys(r.Context(), caller, local, &resp); err != nil {
		return nil, err
	}
	a.remoteKeys(r.Context(), remote, keysTimeout(req.Timeout), &resp)
	if err := a.addOwnSignaturesOfRemoteKeys(r.Context(), caller, &resp); err != nil {
		return nil, err
	}
	return resp, nil
}

// checkRequestSize bounds the users and devices one request names.
func checkRequestSize(users int, deviceCounts func(yield func(int) bool)) error {
	if users > maxQueryUsers {
		return mxcore.InvalidParam("Too many users in one request")
	}
	total := 0
	for n := range deviceCounts {
		total += n
	}
	if total > maxQueryDevices {
		return mxcore.InvalidParam("Too many devices in one request")
	}
	return nil
}

func keysTimeout(ms *int64) time.Duration {
	if ms == nil || *ms <= 0 {
		return remoteKeysTimeout
	}
	return min(time.Duration(*ms)*time.Millisecond, maxRemoteKeysTimeout)
}

// localKeys fills resp with local users' device and cross-signing keys,
// with the signatures the caller may see: the owner's, and the caller's own.
func (a *API) localKeys(ctx context.Context, caller string, want map[string][]string, resp *queryKeysResponse) error {
	users := make([]string, 0, len(want))
	for u := range want {
		users = append(users, u)
	}
	deviceKeys, err := a.Store.DeviceKeys(ctx, users)
	if err != nil {
		return err
	}
	cross, err := a.Store.CrossSigningKeys(ctx, users)
	if err != nil {
		return err
	}
	sigs, err := a.Store.KeySignatures(ctx, users)
	if err != nil {
		return err
	}
	visible := visibleSignatures(sigs, caller)
	for _, u := range users {
		if err := a.addUserDeviceKeys(ctx, u, want[u], deviceKeys[u], visible, resp); err != nil {
			return err
		}
		addCrossSigningKeys(u, caller, cross[u], visible, resp)
	}
	return nil
}

// sigTarget names a signed key: its user and key ID (device ID or public key).
type sigTarget struct{ user, key string }

// visibleSignatures groups the signatures the caller may see by target:
// those by the key's owner and those by the caller.
func visibleSignatures(sigs []storage.KeySignature, caller string) map[sigTarget][]storage.KeySignature {
	out := map[sigTarget][]storage.KeySignature{}
	for _, s := range sigs {
		if s.SignerUserID == s.TargetUserID || s.SignerUserID == caller {
			t := sigTarget{s.TargetUserID, s.TargetKeyID}
			out[t] = append(out[t], s)
		}
	}
	return out
}

// addUserDeviceKeys adds a user's keys of existing devices (those asked
// for, or all), with unsigned.device_display_name.
func (a *API) addUserDeviceKeys(ctx context.Context, userID string, asked []string, keys map[string][]byte, sigs map[sigTarget][]storage.KeySignature, resp *queryKeysResponse) error {
	if len(keys) == 0 {
		return nil
	}
	devices, err := a.Store.ListDevices(ctx, userID)
	if err != nil {
		return err
	}
	wanted := map[string]bool{}
	for _, d := range asked {
		wanted[d] = true
	}
	out := map[string]json.RawMessage{}
	for _, d := range devices {
		js, ok := keys[d.DeviceID]
		if !ok || (len(wanted) > 0 && !wanted[d.DeviceID]) {
			continue
		}
		merged, err := withSignatures(js, sigs[sigTarget{userID, d.DeviceID}], map[string]any{"device_display_name": d.DisplayName})
		if err != nil {
			return err
		}
		out[d.DeviceID] = merged
	}
	if len(out) > 0 {
		resp.DeviceKeys[userID] = out
	}
	return nil
}

// addCrossSigningKeys adds a user's master and self-signing keys, and
// the user-signing key when the user is the caller.
func addCrossSigningKeys(userID, caller string, keys map[string][]byte, sigs map[sigTarget][]storage.KeySignature, resp *queryKeysResponse) {
	if master, ok := keys["master"]; ok {
		if merged, err := withSignatures(master, sigs[sigTarget{userID, crossSigningPublicKey(master)}], nil); err == nil {
			resp.MasterKeys[userID] = merged
		}
	}
	if ssk, ok := keys["self_signing"]; ok {
		resp.SelfSigningKeys[userID] = ssk
	}
	if usk, ok := keys["user_signing"]; ok && userID == caller {
		resp.UserSigningKeys[userID] = usk
	}
}

// withSignatures adds signatures (and unsigned, if given) to a stored key.
func withSignatures(keyJSON []byte, sigs []storage.KeySignature, unsigned map[string]any) (json.RawMessage, error) {
	if len(sigs) == 0 && unsigned == nil {
		return keyJSON, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(keyJSON, &obj); err != nil {
		return nil, err
	}
	if len(sigs) > 0 {
		all := map[string]map[string]string{}
		if raw, ok := obj["signatures"]; ok {
			_ = json.Unmarshal(raw, &all) // stored keys were checked on upload
		}
		for _, s := range sigs {
			if all[s.SignerUserID] == nil {
				all[s.SignerUserID] = map[string]string{}
			}
			all[s.SignerUserID][s.SignerKeyID] = s.Signature
		}
		raw, err := json.Marshal(all)
		if err != nil {
			return nil, err
		}
		obj["signatures"] = raw
	}
	if unsigned != nil {
		raw, err := json.Marshal(unsigned)
		if err != nil {
			return nil, err
		}
		obj["unsigned"] = raw
	}
	return json.Marshal(obj)
}

// remoteKeys asks other servers through the federation seam; servers it
// cannot ask or that fail are listed in failures, and what the seam knew
// of their users without asking (cached keys) is served all the same.
func (a *API) remoteKeys(ctx context.Context, byServer map[string]map[string][]string, timeout time.Duration, resp *queryKeysResponse) {
	for server, users := range byServer {
		if a.RemoteE2EE == nil {
			resp.Failures[server] = map[string]any{}
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, timeout)
		got, err := a.RemoteE2EE.QueryKeys(rctx, server, users)
		cancel()
		if err != nil {
			slog.Debug("clientapi: remote key query failed", "server", server, "err", err)
			resp.Failures[server] = map[string]any{}
		}
		for u, devices := range got.DeviceKeys {
			if serverOf(u) == server {
				resp.DeviceKeys[u] = devices
			}
		}
		for u, k := range got.MasterKeys {
			if serverOf(u) == server {
				resp.MasterKeys[u] = k
			}
		}
		for u, k := range got.SelfSigningKeys {
			if serverOf(u) == server {
				resp.SelfSigningKeys[u] = k
			}
		}
	}
}

// addOwnSignaturesOfRemoteKeys adds the caller's signatures of other
// servers' users' master keys (made with their user-signing key) to the
// master keys answered. Only the signer sees them: they never leave this
// server (cross-signing's signature distribution keeps who verified whom
// private).
func (a *API) addOwnSignaturesOfRemoteKeys(ctx context.Context, caller string, resp *queryKeysResponse) error {
	var users []string
	for u := range resp.MasterKeys {
		if !a.isLocalUser(u) {
			users = append(users, u)
		}
	}
	if len(users) == 0 {
		return nil
	}
	sigs, err := a.Store.KeySignatures(ctx, users)
	if err != nil {
		return err
	}
	mine := map[sigTarget][]storage.KeySignature{}
	for _, s := range sigs {
		if s.SignerUserID == caller {
			t := sigTarget{s.TargetUserID, s.TargetKeyID}
			mine[t] = append(mine[t], s)
		}
	}
	for _, u := range users {
		master := resp.MasterKeys[u]
		t := sigTarget{u, crossSigningPublicKey(master)}
		if len(mine[t]) == 0 {
			continue
		}
		if merged, err := withSignatures(master, mine[t], nil); err == nil {
			resp.MasterKeys[u] = merged
		}
	}
	return nil
}

type claimKeysRequest struct {
	OneTimeKeys map[string]map[string]string `json:"one_time_keys"`
	Timeout     *int64                       `json:"timeout"`
}

// claimKeys is POST /keys/claim.
func (a *API) claimKeys(r *http.Request) (any, error) {
	var req claimKeysRequest
	if err := mxhttp.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	if req.OneTimeKeys == nil {
		return nil, mxcore.MissingParam("one_time_keys is required")
	}
	if err := checkRequestSize(len(req.OneTimeKeys), func(yield func(int) bool) {
		for _, ds := range req.OneTimeKeys {
			if !yield(len(ds)) {
				return
			}
		}
	}); err != nil {
		return nil, err
	}
	var local []storage.KeyClaim
	remote := map[string]map[string]map[string]string{}
	for userID, devices := range req.OneTimeKeys {
		server := serverOf(userID)
		switch {
		case server == "":
		case server == a.ServerName:
			for d, alg := range devices {
				local = append(local, storage.KeyClaim{UserID: userID, DeviceID: d, Algorithm: alg})
			}
		default:
			if remote[server] == nil {
				remote[server] = map[string]map[string]string{}
			}
			remote[server][userID] = devices
		}
	}
	claimed, err := a.Store.ClaimKeys(r.Context(), local)
	if err != nil {
		return nil, err
	}
	keys := claimedKeyMap(claimed)
	failures := a.claimRemote(r.Context(), remote, keysTimeout(req.Timeout), keys)
	return map[string]any{"one_time_keys": keys, "failures": failures}, nil
}

func (a *API) claimRemote(ctx context.Context, byServer map[string]map[string]map[string]string, timeout time.Duration, keys map[string]map[string]map[string]json.RawMessage) map[string]any {
	failures := map[string]any{}
	for server, claims := range byServer {
		if a.RemoteE2EE == nil {
			failures[server] = map[string]any{}
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, timeout)
		got, err := a.RemoteE2EE.ClaimKeys(rctx, server, claims)
		cancel()
		if err != nil {
			failures[server] = map[string]any{}
			continue
		}
		for u, devices := range got {
			if serverOf(u) == server {
				keys[u] = devices
			}
		}
	}
	return failures
}

// keyChanges is GET /keys/changes: who changed keys between two sync tokens.
func (a *API) keyChanges(r *http.Request) (any, error) {
	q := r.URL.Query()
	if q.Get("from") == "" || q.Get("to") == "" {
		return nil, mxcore.MissingParam("from and to are required")
	}
	from, err := parseSyncToken(q.Get("from"))
	if err != nil {
		return nil, mxcore.InvalidParam("from is not a sync token of this server")
	}
	to, err := parseSyncToken(q.Get("to"))
	if err != nil {
		return nil, mxcore.InvalidParam("to is not a sync token of this server")
	}
	fromPos, toPos := from.Streams[streamDeviceLists], to.Streams[streamDeviceLists]
	if cur, err := a.Store.DeviceListPosition(r.Context()); err == nil {
		toPos = min(toPos, cur)
	}
	changed, left := []string{}, []string{}
	if fromPos < toPos {
		changed, left, err = a.deviceListDelta(r.Context(), roomCaller(r).UserID, fromPos, toPos)
		if err != nil {
			return nil, err
		}
	}
	return map[string][]string{"changed": changed, "left": left}, nil
}

// claimedKeyMap arranges claimed keys as /keys/claim answers them: user ID,
// then device ID, then "algorithm:key ID".
func claimedKeyMap(claimed []storage.ClaimedKey) map[string]map[string]map[string]json.RawMessage {
	keys := map[string]map[string]map[string]json.RawMessage{}
	for _, c := range claimed {
		if keys[c.UserID] == nil {
			keys[c.UserID] = map[string]map[string]json.RawMessage{}
		}
		keys[c.UserID][c.DeviceID] = map[string]json.RawMessage{c.KeyID: c.KeyJSON}
	}
	return keys
}
