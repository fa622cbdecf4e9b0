package sytest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/warbler-im/warbler/sytest/harness"
)

// TestFederationUserKeyEndpoints: another server (A, signing its
// requests) reads bob's device list and keys on B and claims his
// one-time keys, each once; B refuses users that are not its own,
// malformed requests and unsigned ones.
func TestFederationUserKeyEndpoints(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		a, b := startFederating(t, backend), startFederating(t, backend)
		bob := newRoomUser(t, b, "bob")
		device := str(bob.ok("GET", "/account/whoami", nil), "device_id")
		bob.ok("PUT", "/devices/"+url.PathEscape(device), map[string]any{"display_name": "bob's phone"})
		bob.ok("POST", "/keys/upload", map[string]any{
			"device_keys": map[string]any{
				"user_id": bob.id, "device_id": device, "algorithms": []string{"m.olm.v1.curve25519-aes-sha2"},
				"keys":       map[string]string{"curve25519:" + device: "curve", "ed25519:" + device: "ed"},
				"signatures": map[string]any{bob.id: map[string]string{"ed25519:" + device: "sig"}},
			},
			"one_time_keys": map[string]any{"signed_curve25519:K1": map[string]any{"key": "k1", "signatures": map[string]any{bob.id: map[string]string{"ed25519:" + device: "s"}}}},
		})
		fed := harness.FederationHTTPClient(t)
		keyID, priv := readSigningKey(t, a)
		signed := func(method, path string, body any) harness.Response {
			var raw []byte
			if body != nil {
				raw, _ = json.Marshal(body)
			}
			return sendFed(t, fed, b, method, path, raw, xMatrix(t, method, path, a.Name, b.Name, raw, keyID, priv))
		}

		devices := want(t, signed("GET", "/_matrix/federation/v1/user/devices/"+url.PathEscape(bob.id), nil), http.StatusOK, "")
		list, _ := devices["devices"].([]any)
		if str(devices, "user_id") != bob.id || devices["stream_id"].(float64) <= 0 || len(list) != 1 {
			t.Fatalf("/user/devices: %v", devices)
		}
		if d := list[0].(map[string]any); str(d, "device_id") != device || str(d, "device_display_name") != "bob's phone" || d["keys"] == nil {
			t.Fatalf("device %v", d)
		}
		query := want(t, signed("POST", "/_matrix/federation/v1/user/keys/query", map[string]any{"device_keys": map[string]any{bob.id: []string{}}}), http.StatusOK, "")
		if keys, _ := query["device_keys"].(map[string]any)[bob.id].(map[string]any); keys[device] == nil {
			t.Fatalf("/user/keys/query: %v", query)
		}
		claim := map[string]any{"one_time_keys": map[string]any{bob.id: map[string]string{device: "signed_curve25519"}}}
		first := want(t, signed("POST", "/_matrix/federation/v1/user/keys/claim", claim), http.StatusOK, "")
		if got, _ := first["one_time_keys"].(map[string]any)[bob.id].(map[string]any); got[device] == nil {
			t.Fatalf("first claim: %v", first)
		}
		second := want(t, signed("POST", "/_matrix/federation/v1/user/keys/claim", claim), http.StatusOK, "")
		if got, _ := second["one_time_keys"].(map[string]any)[bob.id].(map[string]any); got[device] != nil {
			t.Fatalf("the one-time key was handed out twice: %v", second)
		}

		other := "@alice:" + a.Name
		want(t, signed("GET", "/_matrix/federation/v1/user/devices/"+url.PathEscape(other), nil), http.StatusBadRequest, "M_INVALID_PARAM")
		want(t, signed("POST", "/_matrix/federation/v1/user/keys/query", map[string]any{"device_keys": map[string]any{other: []string{}}}), http.StatusBadRequest, "M_INVALID_PARAM")
		want(t, signed("POST", "/_matrix/federation/v1/user/keys/claim", map[string]any{}), http.StatusBadRequest, "M_MISSING_PARAM")
		want(t, sendFed(t, fed, b, "GET", "/_matrix/federation/v1/user/devices/"+url.PathEscape(bob.id), nil, ""), http.StatusUnauthorized, "M_UNAUTHORIZED")
	})
}
