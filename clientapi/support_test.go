package clientapi

import (
	"net/http"
	"testing"
)

func TestWellKnownSupport(t *testing.T) {
	tests := []struct {
		name         string
		info         SupportInfo
		wantStatus   int
		wantContacts int
		wantPage     bool
	}{
		{"nothing", SupportInfo{}, 404, 0, false},
		{"empty contacts only", SupportInfo{Contacts: []SupportContact{{Role: "m.role.admin"}}}, 404, 0, false},
		{"page only", SupportInfo{Page: "https://example.org/help"}, 200, 0, true},
		{"contacts", SupportInfo{Contacts: []SupportContact{
			{Role: "m.role.admin", MatrixID: "@admin:example.org"},
			{Role: "m.role.security", EmailAddress: "security@example.org"},
			{Role: "m.role.security"},
		}}, 200, 2, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t, func(a *API) { a.Support = tc.info })
			resp := e.do("GET", "/.well-known/matrix/support", nil, "")
			if tc.wantStatus == 404 {
				resp.want(t, http.StatusNotFound, "M_NOT_FOUND")
				return
			}
			resp.want(t, 200, "")
			contacts, _ := resp.body["contacts"].([]any)
			if len(contacts) != tc.wantContacts {
				t.Errorf("contacts %v", resp.body["contacts"])
			}
			if _, ok := resp.body["contacts"]; ok != (tc.wantContacts > 0) {
				t.Errorf("contacts present = %v", ok)
			}
			if (resp.str("support_page") != "") != tc.wantPage {
				t.Errorf("support_page %v", resp.body["support_page"])
			}
		})
	}
}
