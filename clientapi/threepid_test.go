package clientapi

import (
	"net/http"
	"testing"
)

func TestThreePIDRequestTokens(t *testing.T) {
	e := newTestEnv(t, nil)
	email := `{"client_secret":"s3cret_X","email":"alice@example.org","send_attempt":1}`
	msisdn := `{"client_secret":"s3cret_X","country":"GB","phone_number":"07700 900123","send_attempt":1}`
	refusals := map[string]struct {
		status  int
		errcode string
	}{
		"/register":         {403, "M_THREEPID_DENIED"},
		"/account/3pid":     {400, "M_THREEPID_MEDIUM_NOT_SUPPORTED"},
		"/account/password": {400, "M_THREEPID_NOT_FOUND"},
	}
	bad := []struct {
		name, medium, body, errcode string
	}{
		{"not JSON", "email", `nope`, "M_NOT_JSON"},
		{"wrong type", "email", `{"client_secret":"s","email":"a@b","send_attempt":"1"}`, "M_BAD_JSON"},
		{"no email", "email", `{"client_secret":"s","send_attempt":1}`, "M_MISSING_PARAM"},
		{"no secret", "email", `{"email":"a@b","send_attempt":1}`, "M_MISSING_PARAM"},
		{"no attempt", "email", `{"client_secret":"s","email":"a@b"}`, "M_MISSING_PARAM"},
		{"bad email", "email", `{"client_secret":"s","email":"nobody","send_attempt":1}`, "M_INVALID_PARAM"},
		{"bad secret", "email", `{"client_secret":"no spaces","email":"a@b","send_attempt":1}`, "M_INVALID_PARAM"},
		{"bad next_link", "email", `{"client_secret":"s","email":"a@b","send_attempt":1,"next_link":"javascript:x"}`, "M_INVALID_PARAM"},
		{"id_server without token", "email", `{"client_secret":"s","email":"a@b","send_attempt":1,"id_server":"id.example.org"}`, "M_MISSING_PARAM"},
		{"no phone", "msisdn", `{"client_secret":"s","country":"GB","send_attempt":1}`, "M_MISSING_PARAM"},
		{"bad country", "msisdn", `{"client_secret":"s","country":"GBR","phone_number":"1","send_attempt":1}`, "M_INVALID_PARAM"},
		{"bad phone", "msisdn", `{"client_secret":"s","country":"GB","phone_number":"call me","send_attempt":1}`, "M_INVALID_PARAM"},
	}
	for prefix, refusal := range refusals {
		t.Run(prefix, func(t *testing.T) {
			e.doRaw("POST", v3+prefix+"/email/requestToken", email, "").want(t, refusal.status, refusal.errcode)
			e.doRaw("POST", v3+prefix+"/msisdn/requestToken", msisdn, "").want(t, refusal.status, refusal.errcode)
			for _, tc := range bad {
				t.Run(tc.name, func(t *testing.T) {
					e.doRaw("POST", v3+prefix+"/"+tc.medium+"/requestToken", tc.body, "").want(t, http.StatusBadRequest, tc.errcode)
				})
			}
		})
	}
}

func TestThreePIDAccountEndpoints(t *testing.T) {
	e := newTestEnv(t, nil)
	e.createUser("alice", "pw-alice-1", false)
	token := e.login("alice", "pw-alice-1", nil).str("access_token")
	creds := `"client_secret":"s3cret","id_server":"id.example.org","id_access_token":"tok","sid":"123"`
	tests := []struct {
		name, path, body string
		status           int
		errcode          string
	}{
		{"3pid", "/account/3pid", `{"three_pid_creds":{` + creds + `}}`, 403, "M_THREEPID_AUTH_FAILED"},
		{"3pid without creds", "/account/3pid", `{}`, 400, "M_MISSING_PARAM"},
		{"3pid partial creds", "/account/3pid", `{"three_pid_creds":{"sid":"1"}}`, 400, "M_MISSING_PARAM"},
		{"3pid not JSON", "/account/3pid", `[`, 400, "M_NOT_JSON"},
		{"add", "/account/3pid/add", `{"client_secret":"s3cret","sid":"123"}`, 400, "M_THREEPID_AUTH_FAILED"},
		{"add without sid", "/account/3pid/add", `{"client_secret":"s3cret"}`, 400, "M_MISSING_PARAM"},
		{"add bad secret", "/account/3pid/add", `{"client_secret":"","sid":"1"}`, 400, "M_INVALID_PARAM"},
		{"bind", "/account/3pid/bind", `{` + creds + `}`, 400, "M_SERVER_NOT_TRUSTED"},
		{"bind without id_server", "/account/3pid/bind", `{"client_secret":"s","id_access_token":"t","sid":"1"}`, 400, "M_MISSING_PARAM"},
		{"bind wrong type", "/account/3pid/bind", `{"client_secret":1}`, 400, "M_BAD_JSON"},
		{"delete", "/account/3pid/delete", `{"medium":"email","address":"alice@example.org"}`, 200, ""},
		{"delete with id_server", "/account/3pid/delete", `{"medium":"msisdn","address":"447700900123","id_server":"id.example.org"}`, 200, ""},
		{"delete bad medium", "/account/3pid/delete", `{"medium":"fax","address":"1"}`, 400, "M_INVALID_PARAM"},
		{"delete no address", "/account/3pid/delete", `{"medium":"email"}`, 400, "M_MISSING_PARAM"},
		{"unbind", "/account/3pid/unbind", `{"medium":"email","address":"alice@example.org"}`, 200, ""},
		{"unbind no medium", "/account/3pid/unbind", `{"address":"a@b"}`, 400, "M_MISSING_PARAM"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.doRaw("POST", v3+tc.path, tc.body, token).want(t, tc.status, tc.errcode)
			if tc.status == 200 && resp.str("id_server_unbind_result") != "no-support" {
				t.Errorf("body %v", resp.body)
			}
		})
	}
	e.doRaw("POST", v3+"/account/3pid/bind", `{`+creds+`}`, "").want(t, 401, "M_MISSING_TOKEN")
	resp := e.do("GET", v3+"/account/3pid", nil, token).want(t, 200, "")
	if list, _ := resp.body["threepids"].([]any); len(list) != 0 {
		t.Errorf("threepids after the calls: %v", resp.body)
	}
}
