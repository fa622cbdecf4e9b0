package sytest

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/warbler-im/warbler/sytest/harness"
)

// TestRemoteMediaOverFederation: bob on B downloads media alice uploaded
// to A; B fetches it over the authenticated federation media endpoint
// and keeps serving it from its cache once A is gone.
func TestRemoteMediaOverFederation(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		a, b := startFederating(t, backend), startFederating(t, backend)
		a.RegisterUser("alice", "alice-pw", false)
		b.RegisterUser("bob", "bob-pw", false)
		onA := mediaClient{t: t, s: a}
		onB := mediaClient{t: t, s: b}
		content := []byte("hello from the other server")
		id := onA.upload(a.Login("alice", "alice-pw"), "text/plain", "?filename=greeting.txt", content)
		bobToken := b.Login("bob", "bob-pw")
		remotePath := func(id string) string {
			return "/_matrix/client/v1/media/download/" + url.PathEscape(a.Name) + "/" + id
		}

		got := onB.do("GET", remotePath(id), bobToken, "", nil)
		if got.Status != http.StatusOK || string(got.Body) != string(content) || got.Header.Get("Content-Type") != "text/plain" {
			t.Fatalf("remote download: %d %q %v", got.Status, got.Body, got.Header)
		}
		wantError(t, "unknown remote media", onB.do("GET", remotePath("NoSuchMediaHere"), bobToken, "", nil), http.StatusNotFound, "M_NOT_FOUND")

		a.Stop()
		cached := onB.do("GET", remotePath(id), bobToken, "", nil)
		if cached.Status != http.StatusOK || string(cached.Body) != string(content) {
			t.Fatalf("cached download after A stopped: %d %q", cached.Status, cached.Body)
		}
	})
}

// TestFederationReadsCheckTheRequestingServer: A, with no user in bob's
// room on B, may not read the room's events or state over federation;
// it may read bob's public profile.
func TestFederationReadsCheckTheRequestingServer(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		a, b := startFederating(t, backend), startFederating(t, backend)
		bob := newRoomUser(t, b, "bob")
		roomID := bob.createRoom(map[string]any{"preset": "public_chat"})
		eventID := bob.send(roomID, "t1", "only for members")
		fed := harness.FederationHTTPClient(t)
		keyID, priv := readSigningKey(t, a)
		signedGet := func(path string) harness.Response {
			return sendFed(t, fed, b, "GET", path, nil, xMatrix(t, "GET", path, a.Name, b.Name, nil, keyID, priv))
		}
		room := url.PathEscape(roomID)
		event := url.QueryEscape(eventID)
		cases := []struct {
			path    string
			status  int
			errcode string
		}{
			{"/_matrix/federation/v1/event/" + url.PathEscape(eventID), 403, "M_FORBIDDEN"},
			{"/_matrix/federation/v1/state_ids/" + room + "?event_id=" + event, 403, "M_FORBIDDEN"},
			{"/_matrix/federation/v1/state/" + room + "?event_id=" + event, 403, "M_FORBIDDEN"},
			{"/_matrix/federation/v1/backfill/" + room + "?limit=10&v=" + event, 403, "M_FORBIDDEN"},
			{"/_matrix/federation/v1/event/%24unknown", 404, "M_NOT_FOUND"},
			{"/_matrix/federation/v1/backfill/" + room + "?limit=10", 400, "M_MISSING_PARAM"},
			{"/_matrix/federation/v1/query/profile?user_id=" + url.QueryEscape("@nobody:"+b.Name), 404, "M_NOT_FOUND"},
		}
		for _, c := range cases {
			want(t, signedGet(c.path), c.status, c.errcode)
		}
		profile := want(t, signedGet("/_matrix/federation/v1/query/profile?field=displayname&user_id="+url.QueryEscape(bob.id)), http.StatusOK, "")
		if len(profile) != 1 || str(profile, "displayname") == "" {
			t.Fatalf("profile %v", profile)
		}
		// Unsigned, the same reads are refused before anything else.
		want(t, sendFed(t, fed, b, "GET", "/_matrix/federation/v1/event/"+url.PathEscape(eventID), nil, ""), http.StatusUnauthorized, "M_UNAUTHORIZED")
	})
}
