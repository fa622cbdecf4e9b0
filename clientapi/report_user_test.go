package clientapi

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/warbler-im/warbler/storage"
)

// TestReportUser: any well-formed user ID is reported and answered 200,
// known or not, so the answer tells nothing about who exists.
func TestReportUser(t *testing.T) {
	e := newSyncEnv(t)
	path := func(user string) string { return v3 + "/users/" + url.PathEscape(user) + "/report" }
	tests := []struct {
		name, user, token string
		body              any
		status            int
		errcode           string
	}{
		{"known user", e.bob, e.aliceToken, map[string]any{"reason": "spam"}, 200, ""},
		{"unknown local user", "@nobody:example.org", e.aliceToken, map[string]any{"reason": ""}, 200, ""},
		{"remote user", "@someone:elsewhere.org", e.aliceToken, map[string]any{"reason": "abuse"}, 200, ""},
		{"missing reason", e.bob, e.aliceToken, map[string]any{}, 400, "M_MISSING_PARAM"},
		{"reason not a string", e.bob, e.aliceToken, map[string]any{"reason": 1}, 400, "M_BAD_JSON"},
		{"not a user ID", "bob", e.aliceToken, map[string]any{"reason": "x"}, 400, "M_INVALID_PARAM"},
		{"no token", e.bob, "", map[string]any{"reason": "x"}, 401, "M_MISSING_TOKEN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.do("POST", path(tc.user), tc.body, tc.token).want(t, tc.status, tc.errcode)
		})
	}
	e.doRaw("POST", path(e.bob), `{"reason":`, e.aliceToken).want(t, 400, "M_NOT_JSON")
	reports, err := e.db.UserReports(t.Context(), 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []storage.UserReport{
		{TargetUserID: "@someone:elsewhere.org", UserID: e.alice, Reason: "abuse", ReceivedTS: e.clock.now().UnixMilli()},
		{TargetUserID: "@nobody:example.org", UserID: e.alice, Reason: "", ReceivedTS: e.clock.now().UnixMilli()},
		{TargetUserID: e.bob, UserID: e.alice, Reason: "spam", ReceivedTS: e.clock.now().UnixMilli()},
	}
	if len(reports) != len(want) {
		t.Fatalf("stored %+v", reports)
	}
	for i := range want {
		if reports[i] != want[i] {
			t.Errorf("report %d: %+v, want %+v", i, reports[i], want[i])
		}
	}
	// User reports draw on the same per-user budget as content reports.
	for range storedWritesBurst {
		e.do("POST", path(e.alice), map[string]any{"reason": "x"}, e.bobToken)
	}
	e.do("POST", path(e.alice), map[string]any{"reason": "x"}, e.bobToken).want(t, http.StatusTooManyRequests, "M_LIMIT_EXCEEDED")
}
