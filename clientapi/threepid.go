package clientapi

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/mxcore"
)

// Third-party identifiers (administrative_contact.yaml, the requestToken
// endpoints of registration.yaml and password_management.yaml). Warbler
// sends no email or SMS and trusts no identity server, so no account ever
// has a 3PID (m.3pid_changes is false). Each endpoint still checks its
// body as the spec defines it, then answers as a server without that
// support does:
//
//   - /register/{email,msisdn}/requestToken: 403 M_THREEPID_DENIED
//   - /account/3pid/{email,msisdn}/requestToken: 400 M_THREEPID_MEDIUM_NOT_SUPPORTED
//   - /account/password/{email,msisdn}/requestToken: 400 M_THREEPID_NOT_FOUND
//     (no account has an address, so the answer tells nothing about one)
//   - POST /account/3pid (deprecated): 403 M_THREEPID_AUTH_FAILED
//   - /account/3pid/add: 400 M_THREEPID_AUTH_FAILED, before any password
//     prompt, since no validation session (sid) is ever issued
//   - /account/3pid/bind: 400 M_SERVER_NOT_TRUSTED
//   - /account/3pid/delete and /unbind: 200 with id_server_unbind_result
//     "no-support": there is nothing to remove and no identity server to
//     ask.

const (
	maxClientSecretLen = 255
	// maxThreePIDAddress bounds an email address or a phone number.
	maxThreePIDAddress = 320
)

// mountThreePIDRequestTokens registers the unauthenticated requestToken
// endpoints under /_matrix/client/v3.
func (a *API) mountThreePIDRequestTokens(r chi.Router) {
	for prefix, refuse := range map[string]error{
		"/register":         mxcore.NewError(http.StatusForbidden, mxcore.ErrThreepidDenied, "This server does not accept third-party identifiers at registration"),
		"/account/3pid":     mxcore.NewError(http.StatusBadRequest, mxcore.ErrThreepidMedium, "This server cannot validate third-party identifiers of any medium"),
		"/account/password": mxcore.NewError(http.StatusBadRequest, mxcore.ErrThreepidNotFound, "No account on this server has that third-party identifier"),
	} {
		r.Post(prefix+"/email/requestToken", a.handle(threePIDRequestToken(validateEmailRequest, refuse)))
		r.Post(prefix+"/msisdn/requestToken", a.handle(threePIDRequestToken(validateMSISDNRequest, refuse)))
	}
}

// mountThreePID registers the authenticated /account/3pid endpoints.
func (a *API) mountThreePID(r chi.Router) {
	r.Get("/account/3pid", a.handle(a.listThreePIDs))
	r.Group(func(r chi.Router) {
		r.Use(a.noGuests)
		r.Post("/account/3pid", a.handle(addThreePIDDeprecated))
		r.Post("/account/3pid/add", a.handle(addThreePID))
		r.Post("/account/3pid/bind", a.handle(bindThreePID))
		// The spec lets suspended accounts add contacts but not remove them.
		r.With(a.notSuspended).Post("/account/3pid/delete", a.handle(unbindThreePID))
		r.With(a.notSuspended).Post("/account/3pid/unbind", a.handle(unbindThreePID))
	})
}

// listThreePIDs implements GET /account/3pid: no account has any.
func (a *API) listThreePIDs(*http.Request) (any, error) {
	return map[string]any{"threepids": []any{}}, nil
}

// validationRequest is the body of every requestToken endpoint
// (request_email_validation.yaml, request_msisdn_validation.yaml).
type validationRequest struct {
	ClientSecret  *string `json:"client_secret"`
	Email         *string `json:"email"`
	Country       *string `json:"country"`
	PhoneNumber   *string `json:"phone_number"`
	SendAttempt   *int64  `json:"send_attempt"`
	NextLink      *string `json:"next_link"`
	IDServer      *string `json:"id_server"`
	IDAccessToken *string `json:"id_access_token"`
}

func threePIDRequestToken(validate func(validationRequest) error, refuse error) func(*http.Request) (any, error) {
	return func(r *http.Request) (any, error) {
		var req validationRequest
		if err := mxhttp.DecodeJSON(r, &req); err != nil {
			return nil, err
		}
		if err := validate(req); err != nil {
			return nil, err
		}
		return nil, refuse
	}
}

func validateEmailRequest(req validationRequest) error {
	if req.Email == nil {
		return mxcore.MissingParam("Missing email")
	}
	if err := checkEmail(*req.Email); err != nil {
		return err
	}
	return validateCommon(req)
}

func validateMSISDNRequest(req validationRequest) error {
	if req.Country == nil || req.PhoneNumber == nil {
		return mxcore.MissingParam("Missing country or phone_number")
	}
	if !isCountryCode(*req.Country) {
		return mxcore.InvalidParam("country must be a two-letter ISO-3166-1 alpha-2 code")
	}
	if !isPhoneNumber(*req.PhoneNumber) {
		return mxcore.InvalidParam("phone_number is not a phone number")
	}
	return validateCommon(req)
}

// validateCommon checks the fields both media share.
func validateCommon(req validationRequest) error {
	if req.ClientSecret == nil || req.SendAttempt == nil {
		return mxcore.MissingParam("Missing client_secret or send_attempt")
	}
	if err := checkClientSecret(*req.ClientSecret); err != nil {
		return err
	}
	if req.NextLink != nil && !isHTTPURL(*req.NextLink) {
		return mxcore.InvalidParam("next_link must be an http(s) URL")
	}
	if req.IDServer != nil && req.IDAccessToken == nil {
		return mxcore.MissingParam("id_access_token is required with id_server")
	}
	return nil
}

// checkClientSecret applies the spec's grammar: 1 to 255 of [0-9a-zA-Z.=_-].
func checkClientSecret(s string) error {
	if s == "" || len(s) > maxClientSecretLen || strings.IndexFunc(s, func(c rune) bool {
		return !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.ContainsRune(".=_-", c))
	}) >= 0 {
		return mxcore.InvalidParam("client_secret must be 1 to 255 characters of [0-9a-zA-Z.=_-]")
	}
	return nil
}

func checkEmail(s string) error {
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || domain == "" || strings.ContainsAny(s, " \t\r\n") || len(s) > maxThreePIDAddress {
		return mxcore.InvalidParam("The email address given is not valid")
	}
	return nil
}

func isCountryCode(s string) bool {
	return len(s) == 2 && strings.IndexFunc(s, func(c rune) bool { return !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') }) < 0
}

// isPhoneNumber accepts digits with the separators people type.
func isPhoneNumber(s string) bool {
	digits := 0
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case strings.ContainsRune(" +-().", c):
		default:
			return false
		}
	}
	return digits > 0 && len(s) <= maxThreePIDAddress
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// identityCredentials are the identity-server session fields of /3pid
// and /3pid/bind; all four are required.
type identityCredentials struct {
	ClientSecret  *string `json:"client_secret"`
	IDServer      *string `json:"id_server"`
	IDAccessToken *string `json:"id_access_token"`
	SID           *string `json:"sid"`
}

func (c identityCredentials) validate() error {
	if c.ClientSecret == nil || c.IDServer == nil || c.IDAccessToken == nil || c.SID == nil {
		return mxcore.MissingParam("client_secret, id_server, id_access_token and sid are required")
	}
	return checkClientSecret(*c.ClientSecret)
}

func addThreePIDDeprecated(r *http.Request) (any, error) {
	var req struct {
		Creds *identityCredentials `json:"three_pid_creds"`
	}
	if err := mxhttp.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	if req.Creds == nil {
		return nil, mxcore.MissingParam("Missing three_pid_creds")
	}
	if err := req.Creds.validate(); err != nil {
		return nil, err
	}
	return nil, mxcore.NewError(http.StatusForbidden, mxcore.ErrThreepidAuthFailed, "This server does not verify third-party identifiers with identity servers")
}

func addThreePID(r *http.Request) (any, error) {
	var req struct {
		ClientSecret *string         `json:"client_secret"`
		SID          *string         `json:"sid"`
		Auth         json.RawMessage `json:"auth"`
	}
	if err := mxhttp.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	if req.ClientSecret == nil || req.SID == nil {
		return nil, mxcore.MissingParam("client_secret and sid are required")
	}
	if err := checkClientSecret(*req.ClientSecret); err != nil {
		return nil, err
	}
	return nil, mxcore.NewError(http.StatusBadRequest, mxcore.ErrThreepidAuthFailed, "No validated third-party identifier session has that sid: this server issues none")
}

func bindThreePID(r *http.Request) (any, error) {
	var req identityCredentials
	if err := mxhttp.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	if err := req.validate(); err != nil {
		return nil, err
	}
	return nil, mxcore.NewError(http.StatusBadRequest, mxcore.ErrServerNotTrusted, "This server does not use identity servers")
}

// unbindThreePID serves /3pid/delete and /3pid/unbind: the account has no
// such identifier and no identity server is known to unbind it from.
func unbindThreePID(r *http.Request) (any, error) {
	var req struct {
		Medium   *string `json:"medium"`
		Address  *string `json:"address"`
		IDServer *string `json:"id_server"`
	}
	if err := mxhttp.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	if req.Medium == nil || req.Address == nil {
		return nil, mxcore.MissingParam("medium and address are required")
	}
	if *req.Medium != "email" && *req.Medium != "msisdn" {
		return nil, mxcore.InvalidParam("medium must be email or msisdn")
	}
	return map[string]string{"id_server_unbind_result": "no-support"}, nil
}
