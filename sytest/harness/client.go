package harness

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// Response is a decoded HTTP answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic map, failing the test if it is not
// a JSON object.
func (r Response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response is not a JSON object (status %d): %s", r.Status, r.Body)
	}
	return m
}

// Errcode returns the Matrix errcode of an error response, or "".
func (r Response) Errcode() string {
	var m struct {
		Errcode string `json:"errcode"`
	}
	_ = json.Unmarshal(r.Body, &m)
	return m.Errcode
}

// Do sends a request to the client listener. body may be nil, []byte (sent
// as is) or any value (sent as JSON). token, if set, is sent as a Bearer token.
func (s *Server) Do(method, path string, body any, token string) Response {
	s.t.Helper()
	return DoURL(s.t, s.HTTPClient, method, s.ClientURL+path, body, token)
}

// DoURL is Do against any URL with any client.
func DoURL(t testing.TB, c *http.Client, method, url string, body any, token string) Response {
	t.Helper()
	var reader io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		reader = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		reader = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, url, reader)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: raw}
}

// Login logs in with a password and returns the access token.
func (s *Server) Login(user, password string) string {
	s.t.Helper()
	resp := s.Do("POST", "/_matrix/client/v3/login", map[string]any{
		"type":       "m.login.password",
		"identifier": map[string]string{"type": "m.id.user", "user": user},
		"password":   password,
	}, "")
	if resp.Status != http.StatusOK {
		s.t.Fatalf("login %s: %d %s", user, resp.Status, resp.Body)
	}
	token, _ := resp.JSON(s.t)["access_token"].(string)
	if token == "" {
		s.t.Fatalf("login gave no access_token: %s", resp.Body)
	}
	return token
}
