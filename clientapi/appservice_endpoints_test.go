package clientapi

import (
	"net/http"
	"testing"
)

func TestAppserviceOnlyEndpointsRefuseUserTokens(t *testing.T) {
	e := newSyncEnv(t)
	tests := []struct {
		name, method, path, token string
		status                    int
		errcode                   string
	}{
		{"ping without token", "POST", "/_matrix/client/v1/appservice/bridge/ping", "", http.StatusUnauthorized, "M_MISSING_TOKEN"},
		{"ping with a user token", "POST", "/_matrix/client/v1/appservice/bridge/ping", e.aliceToken, http.StatusForbidden, "M_FORBIDDEN"},
		{"network directory without token", "PUT", "/_matrix/client/v3/directory/list/appservice/irc/!r:example.org", "", http.StatusUnauthorized, "M_MISSING_TOKEN"},
		{"network directory with a user token", "PUT", "/_matrix/client/v3/directory/list/appservice/irc/!r:example.org", e.aliceToken, http.StatusForbidden, "M_FORBIDDEN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.do(tc.method, tc.path, map[string]any{"visibility": "public"}, tc.token).want(t, tc.status, tc.errcode)
		})
	}
}
