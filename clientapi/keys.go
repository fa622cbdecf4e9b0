package clientapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

// End-to-end encryption plumbing (keys.yaml, cross_signing.yaml,
// to_device.yaml, key_backup.yaml). The server never sees plaintext: it
// stores and forwards keys and ciphertext faithfully, checking only their
// shape and who may write them.

// RemoteE2EE is the seam to other servers for E2EE: federation's
// /user/keys/query and /user/keys/claim, and the m.direct_to_device EDU.
// With none, remote users' servers are reported in failures (queries and
// claims) and to-device messages to them are dropped.
type RemoteE2EE interface {
	// QueryKeys asks server for its users' keys: user → device IDs (empty
	// for all devices). With an error (server is then in failures) it may
	// still return the keys it knew without asking, which are served.
	QueryKeys(ctx context.Context, server string, deviceKeys map[string][]string) (RemoteKeys, error)
	// ClaimKeys claims one-time keys on server: user → device → algorithm.
	// It answers user → device → key ID → key.
	ClaimKeys(ctx context.Context, server string, claims map[string]map[string]string) (map[string]map[string]map[string]json.RawMessage, error)
	// SendToDevice sends server an m.direct_to_device EDU: messages are
	// user → device ID (or "*") → content.
	SendToDevice(ctx context.Context, server, sender, eventType, messageID string, messages map[string]map[string]json.RawMessage) error
}

// RemoteKeys is a remote server's answer to a key query.
type RemoteKeys struct {
	DeviceKeys      map[string]map[string]json.RawMessage `json:"device_keys"`
	MasterKeys      map[string]json.RawMessage            `json:"master_keys"`
	SelfSigningKeys map[string]json.RawMessage            `json:"self_signing_keys"`
}

// Bounds on what one request may ask of the key endpoints.
const (
	maxUploadKeys    = 200   // one-time plus fallback keys in one upload
	maxStoredOTKs    = 1000  // unclaimed one-time keys kept per device
	maxKeyIDLength   = 255   // "algorithm:id"
	maxQueryUsers    = 1000  // users in one /keys/query or /keys/claim
	maxQueryDevices  = 10000 // devices named in one /keys/query or /keys/claim
	maxChangesPerRun = 1000  // device list changes read for one sync
)

// mountKeys registers the E2EE endpoints. Guests may upload, query and
// claim keys and send to-device messages (the guest access module lists
// these); the rest is for full accounts.
func (a *API) mountKeys(r chi.Router) {
	r.Post("/keys/upload", a.handle(a.uploadKeys))
	r.Post("/keys/query", a.handle(a.queryKeys))
	r.Post("/keys/claim", a.handle(a.claimKeys))
	r.Put("/sendToDevice/{eventType}/{txnId}", a.handle(a.sendToDevice))
	r.Group(func(r chi.Router) {
		r.Use(a.noGuests)
		r.Get("/keys/changes", a.handle(a.keyChanges))
		r.Post("/keys/device_signing/upload", a.handle(a.uploadCrossSigningKeys))
		r.Post("/keys/signatures/upload", a.handle(a.uploadSignatures))
		a.mountKeyBackup(r)
	})
}

type uploadKeysRequest struct {
	DeviceKeys   json.RawMessage            `json:"device_keys"`
	OneTimeKeys  map[string]json.RawMessage `json:"one_time_keys"`
	FallbackKeys map[string]json.RawMessage `json:"fallback_keys"`
}

// deviceKeysShape is what device_keys must hold (device_keys.yaml).
type deviceKeysShape struct {
	UserID     string                       `json:"user_id"`
	DeviceID   string                       `json:"device_id"`
	Algorithms []string                     `json:"algorithms"`
	Keys       map[string]string            `json:"keys"`
	Signatures map[string]map[string]string `json:"signatures"`
}

// uploadKeys is POST /keys/upload. Everything is checked before anything
// is stored, so a bad request changes nothing.
func (a *API) uploadKeys(r *http.Request) (any, error) {
	sess := roomCaller(r)
	var req uploadKeysRequest
	if err := decodeRoomBody(r, &req); err != nil {
		return nil, err
	}
	if len(req.OneTimeKeys)+len(req.FallbackKeys) > maxUploadKeys {
		return nil, mxcore.InvalidParam("Too many keys in one upload")
	}
	otks, err := parseOneTimeKeys(req.OneTimeKeys, "one_time_keys")
	if err != nil {
		return nil, err
	}
	fbks, err := parseOneTimeKeys(req.FallbackKeys, "fallback_keys")
	if err != nil {
		return nil, err
	}
	if err := oneKeyPerAlgorithm(fbks); err != nil {
		return nil, err
	}
	var deviceKeys []byte
	if !isAbsent(req.DeviceKeys) {
		if deviceKeys, err = checkDeviceKeys(req.DeviceKeys, sess.UserID, sess.DeviceID); err != nil {
			return nil, err
		}
	}
	ctx := r.Context()
	if len(otks) > 0 {
		if err := a.checkOTKRoom(ctx, sess.UserID, sess.DeviceID, len(otks)); err != nil {
			return nil, err
		}
		if err := a.Store.AddOneTimeKeys(ctx, sess.UserID, sess.DeviceID, otks); errors.Is(err, storage.ErrConflict) {
			return nil, mxcore.InvalidParam("A one-time key with this ID was already uploaded with different contents")
		} else if err != nil {
			return nil, err
		}
	}
	if len(fbks) > 0 {
		if err := a.Store.SetFallbackKeys(ctx, sess.UserID, sess.DeviceID, fbks); err != nil {
			return nil, err
		}
	}
	if deviceKeys != nil {
		pos, err := a.Store.SetDeviceKeys(ctx, sess.UserID, sess.DeviceID, deviceKeys)
		if err != nil {
			return nil, err
		}
		a.deviceListChanged(ctx, DeviceListChange{UserID: sess.UserID, DeviceID: sess.DeviceID, Pos: pos})
	}
	counts, err := a.otkCounts(ctx, sess.UserID, sess.DeviceID)
	if err != nil {
		return nil, err
	}
	return map[string]any{"one_time_key_counts": counts}, nil
}

// checkOTKRoom refuses an upload that would keep more than maxStoredOTKs
// unclaimed one-time keys for a device: clients keep about fifty.
func (a *API) checkOTKRoom(ctx context.Context, userID, deviceID string, adding int) error {
	counts, err := a.Store.OneTimeKeyCounts(ctx, userID, deviceID)
	if err != nil {
		return err
	}
	total := adding
	for _, n := range counts {
		total += n
	}
	if total > maxStoredOTKs {
		return mxcore.InvalidParam("Too many unclaimed one-time keys for this device")
	}
	return nil
}

// otkCounts counts a device's one-time keys; signed_curve25519, the
// algorithm every client uses, is always present.
func (a *API) otkCounts(ctx context.Context, userID, deviceID string) (map[string]int, error) {
	counts, err := a.Store.OneTimeKeyCounts(ctx, userID, deviceID)
	if err != nil {
		return nil, err
	}
	if _, ok := counts["signed_curve25519"]; !ok {
		counts["signed_curve25519"] = 0
	}
	return counts, nil
}

// checkDeviceKeys checks that device_keys describe the caller's device and
// are shaped as the spec says, and returns them compacted.
func checkDeviceKeys(raw json.RawMessage, userID, deviceID string) ([]byte, error) {
	var dk deviceKeysShape
	if err := json.Unmarshal(raw, &dk); err != nil {
		return nil, mxcore.BadJSON("device_keys: " + err.Error())
	}
	switch {
	case dk.UserID != userID:
		return nil, mxcore.InvalidParam("device_keys.user_id must be the user of the access token")
	case dk.DeviceID != deviceID:
		return nil, mxcore.InvalidParam("device_keys.device_id must be the device of the access token")
	case len(dk.Algorithms) == 0:
		return nil, mxcore.BadJSON("device_keys.algorithms must list the supported algorithms")
	case len(dk.Keys) == 0:
		return nil, mxcore.BadJSON("device_keys.keys must hold the device's public keys")
	}
	for id, key := range dk.Keys {
		alg, dev, ok := strings.Cut(id, ":")
		if !ok || alg == "" || dev != deviceID || key == "" {
			return nil, mxcore.BadJSON("device_keys.keys must be named <algorithm>:<device_id>")
		}
	}
	if err := checkSignaturesShape(dk.Signatures, userID); err != nil {
		return nil, err
	}
	return compactJSON(raw)
}

// checkSignaturesShape: a signed object carries at least one signature by
// its owner, each named <algorithm>:<key id>.
func checkSignaturesShape(sigs map[string]map[string]string, owner string) error {
	if len(sigs[owner]) == 0 {
		return mxcore.BadJSON("signatures must include a signature by " + owner)
	}
	for _, byKey := range sigs {
		for id, sig := range byKey {
			if alg, name, ok := strings.Cut(id, ":"); !ok || alg == "" || name == "" || sig == "" {
				return mxcore.BadJSON("signatures must be named <algorithm>:<key id>")
			}
		}
	}
	return nil
}

// parseOneTimeKeys checks one_time_keys or fallback_keys: IDs
// "<algorithm>:<id>", each key a string or a signed object.
func parseOneTimeKeys(keys map[string]json.RawMessage, field string) ([]storage.OneTimeKey, error) {
	out := make([]storage.OneTimeKey, 0, len(keys))
	for id, raw := range keys {
		alg, name, ok := strings.Cut(id, ":")
		if !ok || alg == "" || name == "" || len(id) > maxKeyIDLength {
			return nil, mxcore.BadJSON(field + ": key IDs must be <algorithm>:<key id>")
		}
		if err := checkOneTimeKey(raw); err != nil {
			return nil, mxcore.BadJSON(field + "." + id + ": " + err.Error())
		}
		js, err := compactJSON(raw)
		if err != nil {
			return nil, err
		}
		out = append(out, storage.OneTimeKey{KeyID: id, KeyJSON: js})
	}
	return out, nil
}

func checkOneTimeKey(raw json.RawMessage) error {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s == "" {
			return errors.New("empty key")
		}
		return nil
	}
	var signed struct {
		Key        string                       `json:"key"`
		Signatures map[string]map[string]string `json:"signatures"`
	}
	if err := json.Unmarshal(raw, &signed); err != nil {
		return errors.New("a key must be a string or a signed key object")
	}
	if signed.Key == "" || len(signed.Signatures) == 0 {
		return errors.New("a signed key needs key and signatures")
	}
	return nil
}

func oneKeyPerAlgorithm(keys []storage.OneTimeKey) error {
	seen := map[string]bool{}
	for _, k := range keys {
		alg, _, _ := strings.Cut(k.KeyID, ":")
		if seen[alg] {
			return mxcore.InvalidParam("fallback_keys may hold one key per algorithm")
		}
		seen[alg] = true
	}
	return nil
}

// compactJSON strips insignificant whitespace, so equal keys compare equal.
func compactJSON(raw json.RawMessage) ([]byte, error) {
	out, err := json.Marshal(raw) // validates and compacts
	if err != nil {
		return nil, mxcore.BadJSON("keys must be valid JSON")
	}
	return out, nil
}

// isLocalUser reports whether userID belongs to this server.
func (a *API) isLocalUser(userID string) bool {
	u, err := mxcore.ParseUserID(userID)
	return err == nil && u.Server == a.ServerName
}

// serverOf is the server part of a user ID ("" if it is not one).
func serverOf(userID string) string {
	u, err := mxcore.ParseUserID(userID)
	if err != nil {
		return ""
	}
	return u.Server
}
