package clientapi

import (
	"net/http"

	"github.com/warbler-im/warbler/mxcore"
)

// SupportInfo is what /.well-known/matrix/support (support.yaml) lists:
// the operators' contacts and a help page. Contacts without a Matrix ID
// or an email address are left out; with nothing left the endpoint
// answers 404, as the spec has a server without support information do.
type SupportInfo struct {
	Contacts []SupportContact
	Page     string
}

// SupportContact is one way to reach the operators; Role is m.role.admin,
// m.role.security or a namespaced role.
type SupportContact struct {
	Role         string `json:"role"`
	MatrixID     string `json:"matrix_id,omitempty"`
	EmailAddress string `json:"email_address,omitempty"`
}

func (a *API) wellKnownSupport(*http.Request) (any, error) {
	out := map[string]any{}
	var contacts []SupportContact
	for _, c := range a.Support.Contacts {
		if c.Role != "" && (c.MatrixID != "" || c.EmailAddress != "") {
			contacts = append(contacts, c)
		}
	}
	if len(contacts) > 0 {
		out["contacts"] = contacts
	}
	if a.Support.Page != "" {
		out["support_page"] = a.Support.Page
	}
	if len(out) == 0 {
		return nil, mxcore.NotFound("No support information is configured")
	}
	return out, nil
}
