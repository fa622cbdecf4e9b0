package clientapi

import (
	"net/http"
	"testing"
)

func TestWhoisAndThirdPartyLookups(t *testing.T) {
	e := newSyncEnv(t)
	self := e.do("GET", "/_matrix/client/v3/admin/whois/"+e.alice, nil, e.aliceToken).want(t, http.StatusOK, "")
	devices, _ := self.body["devices"].(map[string]any)
	if self.body["user_id"] != e.alice || len(devices) != 1 {
		t.Errorf("whois of oneself: %v", self.body)
	}
	e.do("GET", "/_matrix/client/v3/admin/whois/"+e.alice, nil, e.bobToken).want(t, http.StatusForbidden, "M_FORBIDDEN")
	if err := e.db.SetAdmin(t.Context(), e.bob, true); err != nil {
		t.Fatal(err)
	}
	e.do("GET", "/_matrix/client/v3/admin/whois/"+e.alice, nil, e.bobToken).want(t, http.StatusOK, "")
	e.do("GET", "/_matrix/client/v3/admin/whois/@nobody:"+testServer, nil, e.bobToken).want(t, http.StatusNotFound, "M_NOT_FOUND")
	e.do("GET", "/_matrix/client/v3/admin/whois/"+e.alice, nil, "").want(t, http.StatusUnauthorized, "M_MISSING_TOKEN")

	if got := e.do("GET", "/_matrix/client/v3/thirdparty/protocols", nil, e.aliceToken).want(t, http.StatusOK, ""); len(got.body) != 0 {
		t.Errorf("protocols %v, want none", got.body)
	}
	for _, p := range []string{"protocol/irc", "location/irc", "user/irc", "location?alias=%23x", "user?userid=x"} {
		e.do("GET", "/_matrix/client/v3/thirdparty/"+p, nil, e.aliceToken).want(t, http.StatusNotFound, "M_NOT_FOUND")
	}
}
