package sytest

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"net/http"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto/backup"
	"maunium.net/go/mautrix/id"

	"github.com/warbler-im/warbler/sytest/harness"
)

// TestE2EEEndpointErrors: the error cases the keys, cross-signing,
// to-device and key backup specs list, black-box.
func TestE2EEEndpointErrors(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend)
		alice := s.RegisterUser("alice", "alice-pw", false)
		bob := s.RegisterUser("bob", "bob-pw", false)
		token := s.Login("alice", "alice-pw")
		whoami := want(t, s.Do("GET", "/_matrix/client/v3/account/whoami", nil, token), 200, "")
		device, _ := whoami["device_id"].(string)

		keys := func(user, dev string) map[string]any {
			return map[string]any{
				"user_id": user, "device_id": dev, "algorithms": []string{"m.olm.v1.curve25519-aes-sha2"},
				"keys":       map[string]string{"ed25519:" + dev: "pub", "curve25519:" + dev: "curve"},
				"signatures": map[string]any{user: map[string]string{"ed25519:" + dev: "sig"}},
			}
		}
		cases := []struct {
			name, method, path string
			body               any
			token              string
			status             int
			errcode            string
		}{
			{"no token", "POST", "/keys/upload", map[string]any{}, "", 401, "M_MISSING_TOKEN"},
			{"bad JSON", "POST", "/keys/upload", []byte(`{"device_keys":`), token, 400, "M_NOT_JSON"},
			{"wrong user in device_keys", "POST", "/keys/upload", map[string]any{"device_keys": keys(bob, device)}, token, 400, "M_INVALID_PARAM"},
			{"wrong device in device_keys", "POST", "/keys/upload", map[string]any{"device_keys": keys(alice, "NOTMINE")}, token, 400, "M_INVALID_PARAM"},
			{"query without device_keys", "POST", "/keys/query", map[string]any{}, token, 400, "M_MISSING_PARAM"},
			{"claim without one_time_keys", "POST", "/keys/claim", map[string]any{}, token, 400, "M_MISSING_PARAM"},
			{"changes without from", "GET", "/keys/changes?to=s1", nil, token, 400, "M_MISSING_PARAM"},
			{"to-device without messages", "PUT", "/sendToDevice/m.test/t1", map[string]any{}, token, 400, "M_MISSING_PARAM"},
			{"no current backup", "GET", "/room_keys/version", nil, token, 404, "M_NOT_FOUND"},
			{"unknown backup version", "GET", "/room_keys/version/99", nil, token, 404, "M_NOT_FOUND"},
			{"keys of an unknown backup version", "GET", "/room_keys/keys?version=99", nil, token, 404, "M_NOT_FOUND"},
			{"backup without auth_data", "POST", "/room_keys/version", map[string]any{"algorithm": "m.megolm_backup.v1.curve25519-aes-sha2"}, token, 400, "M_BAD_JSON"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				want(t, s.Do(tc.method, "/_matrix/client/v3"+tc.path, tc.body, tc.token), tc.status, tc.errcode)
			})
		}
		// None of the refused uploads stored keys.
		q := want(t, s.Do("POST", "/_matrix/client/v3/keys/query", map[string]any{"device_keys": map[string]any{alice: []string{}}}, token), 200, "")
		if dk, _ := q["device_keys"].(map[string]any); len(dk) != 0 {
			t.Errorf("refused uploads stored keys: %v", dk)
		}
	})
}

// TestE2EEKeyBackupAndCrossSigningUIA: key backup through mautrix-go's
// typed client (so our shapes are what clients parse), the wrong-version
// error, and cross-signing's UIA rule.
func TestE2EEKeyBackupAndCrossSigningUIA(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend)
		ctx := t.Context()
		alice := mautrixUser(t, s, "alice")
		token := alice.AccessToken

		created, err := alice.CreateKeyBackupVersion(ctx, &mautrix.ReqRoomKeysVersionCreate[backup.MegolmAuthData]{
			Algorithm: id.KeyBackupAlgorithmMegolmBackupV1, AuthData: backup.MegolmAuthData{PublicKey: "pk"},
		})
		if err != nil {
			t.Fatalf("CreateKeyBackupVersion: %v", err)
		}
		session := map[string]any{"first_message_index": 0, "forwarded_count": 0, "is_verified": true, "session_data": map[string]any{"ciphertext": "YWJj", "ephemeral": base64.RawStdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32)), "mac": "Z2hp"}}
		path := "/_matrix/client/v3/room_keys/keys/!room:x/sess?version=" + string(created.Version)
		put := want(t, s.Do("PUT", path, session, token), 200, "")
		if put["count"] != float64(1) || put["etag"] == "" {
			t.Errorf("put %v", put)
		}
		latest, err := alice.GetKeyBackupLatestVersion(ctx)
		if err != nil || latest.Version != created.Version || latest.Count != 1 || latest.AuthData.PublicKey != "pk" {
			t.Fatalf("GetKeyBackupLatestVersion: %+v %v", latest, err)
		}
		all, err := alice.GetKeyBackup(ctx, created.Version)
		if err != nil || len(all.Rooms["!room:x"].Sessions) != 1 {
			t.Fatalf("GetKeyBackup: %+v %v", all, err)
		}
		second, err := alice.CreateKeyBackupVersion(ctx, &mautrix.ReqRoomKeysVersionCreate[backup.MegolmAuthData]{
			Algorithm: id.KeyBackupAlgorithmMegolmBackupV1, AuthData: backup.MegolmAuthData{PublicKey: "pk2"},
		})
		if err != nil {
			t.Fatal(err)
		}
		wrong := want(t, s.Do("PUT", path, session, token), 403, "M_WRONG_ROOM_KEYS_VERSION")
		if wrong["current_version"] != string(second.Version) {
			t.Errorf("current_version %v, want %s", wrong["current_version"], second.Version)
		}

		master := func() map[string]any {
			pub, _, _ := ed25519.GenerateKey(nil)
			p := base64.RawStdEncoding.EncodeToString(pub)
			return map[string]any{"user_id": string(alice.UserID), "usage": []string{"master"}, "keys": map[string]string{"ed25519:" + p: p}}
		}
		first := map[string]any{"master_key": master()}
		// The first master key needs no UIA, and neither does repeating it.
		want(t, s.Do("POST", "/_matrix/client/v3/keys/device_signing/upload", first, token), 200, "")
		want(t, s.Do("POST", "/_matrix/client/v3/keys/device_signing/upload", first, token), 200, "")
		replace := map[string]any{"master_key": master()}
		challenge := s.Do("POST", "/_matrix/client/v3/keys/device_signing/upload", replace, token)
		if challenge.Status != http.StatusUnauthorized {
			t.Fatalf("replacing the master key without UIA: %d %s", challenge.Status, challenge.Body)
		}
		sessionID, _ := challenge.JSON(t)["session"].(string)
		replace["auth"] = map[string]any{
			"type": "m.login.password", "session": sessionID, "password": "alice-pw",
			"identifier": map[string]string{"type": "m.id.user", "user": "alice"},
		}
		want(t, s.Do("POST", "/_matrix/client/v3/keys/device_signing/upload", replace, token), 200, "")
		q, err := alice.QueryKeys(ctx, &mautrix.ReqQueryKeys{DeviceKeys: mautrix.DeviceKeysRequest{alice.UserID: {}}})
		if err != nil {
			t.Fatalf("QueryKeys: %v", err)
		}
		got := q.MasterKeys[alice.UserID]
		wantKeys := replace["master_key"].(map[string]any)["keys"].(map[string]string)
		for kid := range wantKeys {
			if string(got.Keys[id.KeyID(kid)]) != wantKeys[kid] {
				t.Errorf("master key after UIA %+v, want %v", got.Keys, wantKeys)
			}
		}
	})
}
