package clientapi

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// The expected MACs were computed independently (Python's hmac module)
// from the byte layout provisioning tools use.
func TestRegistrationMACMatchesTooling(t *testing.T) {
	botType := "bot"
	cases := []struct {
		req  adminRegisterRequest
		want string
	}{
		{adminRegisterRequest{Nonce: "abcdef", Username: "alice", Password: "wonderland", Admin: true},
			"a036cbd2c0a44be317de2bb5eb8177493a1e78ae"},
		{adminRegisterRequest{Nonce: "abcdef", Username: "bob", Password: "pw", UserType: &botType},
			"e5b16967a22c31ca295b675101b9a8b72981a9cb"},
	}
	for _, tc := range cases {
		if got := registrationMAC("shared-secret", tc.req); got != tc.want {
			t.Errorf("MAC for %s = %s, want %s", tc.req.Username, got, tc.want)
		}
		tc.req.MAC = strings.ToUpper(tc.want) // hex case does not matter
		if !checkRegistrationMAC("shared-secret", tc.req) {
			t.Errorf("correct MAC for %s refused", tc.req.Username)
		}
		for _, bad := range []string{"", "zz", tc.want[:38], tc.want[:39] + "0"} {
			tc.req.MAC = bad
			if checkRegistrationMAC("shared-secret", tc.req) {
				t.Errorf("MAC %q accepted", bad)
			}
		}
	}
	flipped := cases[0].req
	flipped.Admin = false
	flipped.MAC = cases[0].want
	if checkRegistrationMAC("shared-secret", flipped) {
		t.Error("a MAC for an admin account was accepted for a non-admin one")
	}
}

func TestNoncesAreSingleUseAndExpire(t *testing.T) {
	clock := &testClock{t: time.Unix(1_760_000_000, 0)}
	s := newNonceStore(clock.now)
	n := s.issue()
	if !s.redeem(n) || s.redeem(n) {
		t.Fatal("a nonce must be redeemable exactly once")
	}
	old := s.issue()
	clock.advance(nonceLifetime + time.Second)
	if s.redeem(old) {
		t.Fatal("an expired nonce was accepted")
	}
	if s.redeem("never-issued") {
		t.Fatal("an unknown nonce was accepted")
	}
	for range maxNonces + 10 {
		s.issue()
	}
	if len(s.issued) > maxNonces {
		t.Fatalf("%d nonces kept, bound is %d", len(s.issued), maxNonces)
	}
}

func TestSharedSecretRegistration(t *testing.T) {
	e := newTestEnv(t, func(a *API) { a.Registration.SharedSecret = "s3cret" })
	nonce := e.do("GET", "/_synapse/admin/v1/register", nil, "").want(t, http.StatusOK, "").str("nonce")
	req := adminRegisterRequest{Nonce: nonce, Username: "root", Password: "pw", Admin: true}
	req.MAC = registrationMAC("s3cret", req)
	resp := e.do("POST", "/_synapse/admin/v1/register", req, "").want(t, http.StatusOK, "")
	if resp.str("user_id") != "@root:"+testServer || resp.str("access_token") == "" || resp.str("device_id") == "" {
		t.Fatalf("response: %v", resp.body)
	}
	user, err := e.db.GetUser(t.Context(), "@root:"+testServer)
	if err != nil || !user.IsAdmin {
		t.Fatalf("admin flag not stored: %+v %v", user, err)
	}
	// The nonce is spent, even by the request that used it correctly.
	e.do("POST", "/_synapse/admin/v1/register", req, "").want(t, http.StatusBadRequest, "M_UNKNOWN")

	wrong := adminRegisterRequest{Nonce: e.do("GET", "/_synapse/admin/v1/register", nil, "").str("nonce"), Username: "x", Password: "pw", MAC: "00"}
	e.do("POST", "/_synapse/admin/v1/register", wrong, "").want(t, http.StatusForbidden, "M_FORBIDDEN")

	taken := adminRegisterRequest{Nonce: e.do("GET", "/_synapse/admin/v1/register", nil, "").str("nonce"), Username: "root", Password: "pw"}
	taken.MAC = registrationMAC("s3cret", taken)
	e.do("POST", "/_synapse/admin/v1/register", taken, "").want(t, http.StatusBadRequest, "M_USER_IN_USE")
}

func TestSharedSecretRegistrationOffWithoutSecret(t *testing.T) {
	e := newTestEnv(t, nil)
	e.do("GET", "/_synapse/admin/v1/register", nil, "").want(t, http.StatusBadRequest, "M_UNKNOWN")
	e.do("POST", "/_synapse/admin/v1/register", map[string]any{}, "").want(t, http.StatusBadRequest, "M_UNKNOWN")
}
