package sytest

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/warbler-im/warbler/sytest/harness"
)

// runCLI runs a subcommand against the server's database and fails the
// test if it fails.
func runCLI(t *testing.T, s *harness.Server, args ...string) string {
	t.Helper()
	out, err := s.Run(context.Background(), args...)
	if err != nil {
		t.Fatalf("warbler %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func validity(t *testing.T, s *harness.Server, token string) any {
	t.Helper()
	return want(t, s.Do("GET", "/_matrix/client/v1/register/m.login.registration_token/validity?token="+token, nil, ""), 200, "")["valid"]
}

// tokenStage submits the registration token stage.
func tokenStage(s *harness.Server, session, token string, body map[string]any) harness.Response {
	withAuth := map[string]any{"auth": map[string]any{"type": "m.login.registration_token", "token": token, "session": session}}
	for k, v := range body {
		withAuth[k] = v
	}
	return s.Do("POST", clientV3+"/register", withAuth, "")
}

func TestRegistrationTokens(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend, "WARBLER_REGISTRATION__REQUIRE_TOKEN=true")
		out := runCLI(t, s, "registration-token", "create", "--token", "once", "--uses-allowed", "1")
		if !strings.Contains(out, "created registration token once") {
			t.Fatalf("create: %s", out)
		}
		generated := strings.Fields(runCLI(t, s, "registration-token", "create", "--expires-in", "24h"))[3]
		if len(generated) != 16 {
			t.Errorf("generated token %q", generated)
		}
		if out, err := s.Run(context.Background(), "registration-token", "create", "--token", "once"); err == nil {
			t.Errorf("duplicate token created: %s", out)
		}
		if out, err := s.Run(context.Background(), "registration-token", "create", "--token", "bad token!"); err == nil {
			t.Errorf("invalid token created: %s", out)
		}
		if out, err := s.Run(context.Background(), "registration-token", "create", "--expiry-time", "1000"); err == nil {
			t.Errorf("token expiring in the past created: %s", out)
		}
		later := time.Now().Add(48 * time.Hour).UnixMilli()
		runCLI(t, s, "registration-token", "create", "--token", "later", "--expiry-time", strconv.FormatInt(later, 10))

		if validity(t, s, "once") != true || validity(t, s, generated) != true || validity(t, s, "unknown") != false {
			t.Error("validity of fresh tokens")
		}
		want(t, s.Do("GET", "/_matrix/client/v1/register/m.login.registration_token/validity", nil, ""), 400, "M_MISSING_PARAM")

		body := map[string]any{"username": "dora", "password": "pw"}
		session := wantChallenge(t, s.Do("POST", clientV3+"/register", body, ""), "", "m.login.registration_token")
		wantChallenge(t, tokenStage(s, session, "wrong", body), "M_UNAUTHORIZED", "m.login.registration_token")
		dummy := s.Do("POST", clientV3+"/register", map[string]any{"auth": map[string]any{"type": "m.login.dummy", "session": session}}, "")
		wantChallenge(t, dummy, "M_FORBIDDEN", "m.login.registration_token")
		want(t, tokenStage(s, session, "once", body), 200, "")

		// The one use is spent: the token is no longer valid.
		if validity(t, s, "once") != false {
			t.Error("a used-up token is still valid")
		}
		other := wantChallenge(t, s.Do("POST", clientV3+"/register", map[string]any{"username": "eve", "password": "pw"}, ""), "", "m.login.registration_token")
		wantChallenge(t, tokenStage(s, other, "once", nil), "M_UNAUTHORIZED", "m.login.registration_token")

		list := runCLI(t, s, "registration-token", "list")
		laterExpiry := time.UnixMilli(later).UTC().Format(time.RFC3339)
		if !strings.Contains(list, "once") || !strings.Contains(list, generated) || !strings.Contains(list, laterExpiry) {
			t.Errorf("list:\n%s", list)
		}
		for _, line := range strings.Split(list, "\n") {
			if f := strings.Fields(line); len(f) == 6 && f[0] == "once" && (f[1] != "1" || f[2] != "0" || f[3] != "1" || f[5] != "false") {
				t.Errorf("counts of token once: %s", line)
			}
		}
		runCLI(t, s, "registration-token", "delete", "--token", generated)
		if validity(t, s, generated) != false {
			t.Error("a deleted token is still valid")
		}
		if out, err := s.Run(context.Background(), "registration-token", "delete", "--token", generated); err == nil {
			t.Errorf("deleting a missing token succeeded: %s", out)
		}
	})
}

// sharedSecretMAC is what provisioning tools send, computed here
// independently of the server's code.
func sharedSecretMAC(secret, nonce, user, password string, admin bool) string {
	mac := hmac.New(sha1.New, []byte(secret))
	role := "notadmin"
	if admin {
		role = "admin"
	}
	mac.Write([]byte(nonce + "\x00" + user + "\x00" + password + "\x00" + role))
	return hex.EncodeToString(mac.Sum(nil))
}

func TestSharedSecretRegistration(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := harness.Start(t, harness.Options{Backend: backend, Env: []string{"WARBLER_REGISTRATION__SHARED_SECRET=provisioning-secret"}})
		const path = "/_synapse/admin/v1/register"
		nonce := str(want(t, s.Do("GET", path, nil, ""), 200, ""), "nonce")
		body := map[string]any{
			"nonce": nonce, "username": "root", "password": "rootpw", "admin": true, "displayname": "The Admin",
			"mac": sharedSecretMAC("provisioning-secret", nonce, "root", "rootpw", true),
		}
		created := want(t, s.Do("POST", path, body, ""), 200, "")
		token := str(created, "access_token")
		if str(created, "user_id") != "@root:"+s.Name || token == "" {
			t.Fatalf("created: %v", created)
		}
		want(t, s.Do("GET", clientV3+"/account/whoami", nil, token), 200, "")
		if p := want(t, s.Do("GET", clientV3+"/profile/@root:"+s.Name, nil, ""), 200, ""); p["displayname"] != "The Admin" {
			t.Errorf("profile: %v", p)
		}
		want(t, s.Do("POST", path, body, ""), 400, "M_UNKNOWN") // the nonce is spent

		fresh := func() string { return str(want(t, s.Do("GET", path, nil, ""), 200, ""), "nonce") }
		n := fresh()
		bad := map[string]any{"nonce": n, "username": "x", "password": "pw", "mac": sharedSecretMAC("guess", n, "x", "pw", false)}
		want(t, s.Do("POST", path, bad, ""), 403, "M_FORBIDDEN")
		n = fresh()
		dup := map[string]any{"nonce": n, "username": "root", "password": "pw", "mac": sharedSecretMAC("provisioning-secret", n, "root", "pw", false)}
		want(t, s.Do("POST", path, dup, ""), 400, "M_USER_IN_USE")
		n = fresh()
		invalid := map[string]any{"nonce": n, "username": "no way", "password": "pw", "mac": sharedSecretMAC("provisioning-secret", n, "no way", "pw", false)}
		want(t, s.Do("POST", path, invalid, ""), 400, "M_INVALID_USERNAME")
		want(t, s.Do("POST", path, map[string]any{"nonce": fresh()}, ""), 400, "M_MISSING_PARAM")
		// Open registration stays off all along.
		want(t, s.Do("POST", clientV3+"/register", map[string]any{}, ""), 403, "M_FORBIDDEN")
	})
}
