package clientapi

import (
	"net/http"
	"reflect"
	"sort"
	"testing"
	"time"
)

func TestNextStageFollowsFlowsInOrder(t *testing.T) {
	flows := []uiaFlow{
		{Stages: []string{"a", "b"}},
		{Stages: []string{"a", "c"}},
		{Stages: []string{"d"}},
	}
	cases := []struct {
		completed []string
		stage     string
		allowed   bool
	}{
		{nil, "a", true},
		{nil, "d", true},
		{nil, "b", false}, // out of order
		{[]string{"a"}, "b", true},
		{[]string{"a"}, "c", true},
		{[]string{"a"}, "d", false},
		{[]string{"a", "b"}, "c", false}, // the flow is over
		{nil, "zzz", false},
	}
	for _, tc := range cases {
		if got := nextStageAllowed(flows, tc.completed, tc.stage); got != tc.allowed {
			t.Errorf("after %v, stage %s allowed = %v, want %v", tc.completed, tc.stage, got, tc.allowed)
		}
	}
	if !flowComplete(flows, []string{"a", "c"}) || flowComplete(flows, []string{"a"}) || flowComplete(flows, []string{"c", "a"}) {
		t.Error("flowComplete does not match whole flows in order")
	}
}

// TestChallengeShapeMatchesSpec checks the 401 bodies key by key: the first
// has flows, params and session only; a failed attempt adds errcode and
// error; later ones list completed stages.
func TestChallengeShapeMatchesSpec(t *testing.T) {
	e := newTestEnv(t, func(a *API) { a.Registration.RequireToken = true })
	first := e.do("POST", "/_matrix/client/v3/register", map[string]any{}, "").want(t, http.StatusUnauthorized, "")
	wantKeys(t, first.body, "flows", "params", "session")
	wantFlows := []any{map[string]any{"stages": []any{stageRegistrationToken}}}
	if !reflect.DeepEqual(first.body["flows"], wantFlows) || len(first.body["params"].(map[string]any)) != 0 {
		t.Errorf("flows/params: %v", first.body)
	}
	session := first.str("session")

	bad := e.do("POST", "/_matrix/client/v3/register", map[string]any{
		"auth": map[string]any{"type": stageRegistrationToken, "token": "nosuch", "session": session},
	}, "").want(t, http.StatusUnauthorized, "M_UNAUTHORIZED")
	wantKeys(t, bad.body, "errcode", "error", "flows", "params", "session")
	if bad.str("session") != session {
		t.Error("a failed attempt changed the session")
	}

	outOfFlow := e.do("POST", "/_matrix/client/v3/register", map[string]any{
		"auth": map[string]any{"type": stageDummy, "session": session},
	}, "").want(t, http.StatusUnauthorized, "M_FORBIDDEN")
	wantKeys(t, outOfFlow.body, "errcode", "error", "flows", "params", "session")
}

func wantKeys(t *testing.T, body map[string]any, keys ...string) {
	t.Helper()
	var got []string
	for k := range body {
		got = append(got, k)
	}
	sort.Strings(got)
	sort.Strings(keys)
	if !reflect.DeepEqual(got, keys) {
		t.Errorf("keys %v, want %v", got, keys)
	}
}

func TestCompletedStagesAreReportedAndNotRerun(t *testing.T) {
	e := newTestEnv(t, nil)
	user := e.createUser("alice", "pw", false)
	token := e.login("alice", "pw", nil).str("access_token")
	// A two-stage flow, to see "completed" between the stages.
	flows := []uiaFlow{{Stages: []string{stagePassword, stageDummy}}}
	req := uiaRequest{operation: "test " + user, flows: flows, accountID: user}
	r := authedRequest(t, e, token)
	_, err := e.api.interactiveAuth(r, req)
	session := err.(*uiaChallenge).Session

	req.auth = mustJSON(t, passwordAuth(session, "alice", "pw"))
	_, err = e.api.interactiveAuth(r, req)
	c, ok := err.(*uiaChallenge)
	if !ok || !reflect.DeepEqual(c.Completed, []string{stagePassword}) || c.Errcode != "" {
		t.Fatalf("after the first stage: %#v", err)
	}
	// Retrying the completed stage (even with a wrong password) is not a
	// new attempt: the client is told where it stands.
	req.auth = mustJSON(t, passwordAuth(session, "alice", "wrong"))
	_, err = e.api.interactiveAuth(r, req)
	if c, ok := err.(*uiaChallenge); !ok || c.Errcode != "" || len(c.Completed) != 1 {
		t.Fatalf("retrying a completed stage: %#v", err)
	}
	req.auth = mustJSON(t, map[string]any{"type": stageDummy, "session": session})
	sess, err := e.api.interactiveAuth(r, req)
	if err != nil || sess.userID != user {
		t.Fatalf("completing the flow: %v %+v", err, sess)
	}
	// A claimed session cannot be spent twice.
	if _, err := e.api.interactiveAuth(r, req); err == nil {
		t.Fatal("a claimed session authorised a second request")
	}
}

func TestSessionsAreBoundToTheirOperation(t *testing.T) {
	e := newTestEnv(t, nil)
	e.createUser("alice", "pw", false)
	token := e.login("alice", "pw", nil).str("access_token")
	first := e.do("POST", "/_matrix/client/v3/delete_devices", map[string]any{"devices": []string{"A"}}, token).
		want(t, http.StatusUnauthorized, "")
	// The same session may not authorise deleting other devices.
	e.do("POST", "/_matrix/client/v3/delete_devices", map[string]any{
		"devices": []string{"A", "B"}, "auth": passwordAuth(first.str("session"), "alice", "pw"),
	}, token).want(t, http.StatusForbidden, "M_FORBIDDEN")
	e.do("POST", "/_matrix/client/v3/delete_devices", map[string]any{
		"devices": []string{"A"}, "auth": passwordAuth("no-such-session", "alice", "pw"),
	}, token).want(t, http.StatusBadRequest, "M_UNKNOWN")
}

func TestSessionsExpireAndReleaseTheirTokenUse(t *testing.T) {
	e := newTestEnv(t, func(a *API) { a.Registration.RequireToken = true })
	createToken(t, e, "invite", 1)
	first := e.do("POST", "/_matrix/client/v3/register", map[string]any{}, "").want(t, http.StatusUnauthorized, "")
	session := first.str("session")
	e.do("POST", "/_matrix/client/v3/register", map[string]any{
		"auth": map[string]any{"type": stageRegistrationToken, "token": "invite", "session": session},
	}, "").want(t, http.StatusBadRequest, "M_MISSING_PARAM") // stage passed; then no password
	wantPending(t, e, "invite", 1)

	// The single use is reserved: another sign-up cannot take it.
	other := e.do("POST", "/_matrix/client/v3/register", map[string]any{}, "").str("session")
	e.do("POST", "/_matrix/client/v3/register", map[string]any{
		"auth": map[string]any{"type": stageRegistrationToken, "token": "invite", "session": other},
	}, "").want(t, http.StatusUnauthorized, "M_UNAUTHORIZED")

	e.clock.advance(uiaSessionLifetime + 2*time.Minute)
	e.do("POST", "/_matrix/client/v3/register", map[string]any{
		"password": "pw", "auth": map[string]any{"type": stageRegistrationToken, "token": "invite", "session": session},
	}, "").want(t, http.StatusBadRequest, "M_UNKNOWN")
	e.do("POST", "/_matrix/client/v3/register", map[string]any{}, "") // a new session sweeps expired ones
	wantPending(t, e, "invite", 0)
}

func TestSessionCountIsBounded(t *testing.T) {
	released := 0
	clock := &testClock{t: time.Unix(1_760_000_000, 0)}
	s := newUIAStore(clock.now, func(sess *uiaSession) {
		if sess.regToken != "" {
			released++
		}
	})
	first := s.start("op")
	first.regToken = "held"
	for range maxUIASessions + 5 {
		clock.advance(time.Millisecond)
		s.start("op")
	}
	if n := s.len(); n > maxUIASessions {
		t.Fatalf("%d sessions kept, bound is %d", n, maxUIASessions)
	}
	if _, err := s.lookup(first.id, "op"); err == nil {
		t.Error("the oldest session survived the bound")
	}
	if released != 1 {
		t.Errorf("dropping the oldest session released %d token uses, want 1", released)
	}
}
