package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// APIError is a non-2xx answer from the homeserver.
type APIError struct {
	Status  int
	Errcode string `json:"errcode"`
	Message string `json:"error"`
	// Session is set on a user-interactive auth challenge (401), which is
	// a step of registration rather than a failure.
	Session string `json:"session"`
}

func (e *APIError) Error() string {
	return fmt.Sprintf("HTTP %d %s: %s", e.Status, e.Errcode, e.Message)
}

// code is the label the error counter files an error under.
func errCode(err error) string {
	var apiErr *APIError
	switch {
	case errors.As(err, &apiErr) && apiErr.Errcode != "":
		return apiErr.Errcode
	case errors.As(err, &apiErr):
		return fmt.Sprintf("HTTP_%d", apiErr.Status)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return "timeout"
	default:
		return "transport"
	}
}

// client is a minimal client-server API caller. Plain net/http rather than
// a full SDK keeps the measured path short: what is timed is the server.
type client struct {
	hc   *http.Client
	base string
	errs *errorCounter
}

// call sends body as JSON (if not nil) and decodes a 2xx answer into out
// (if not nil). Failures are counted by errcode before being returned.
func (c *client) call(ctx context.Context, method, path, token string, body, out any) error {
	err := c.do(ctx, method, path, token, body, out)
	if err != nil && ctx.Err() == nil {
		c.errs.add(errCode(err))
	}
	return err
}

func (c *client) do(ctx context.Context, method, path, token string, body, out any) error {
	var reader io.Reader
	if body != nil {
		buf, err := json.Marshal(body)
		if err != nil {
			return err
		}
		reader = bytes.NewReader(buf)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.base, "/")+path, reader)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		apiErr := &APIError{Status: resp.StatusCode}
		_ = json.Unmarshal(data, apiErr) // a non-JSON error keeps just the status
		return apiErr
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(data, out)
}

const clientV3 = "/_matrix/client/v3"

func pathEscape(s string) string { return url.PathEscape(s) }

func itoa(i int) string { return strconv.Itoa(i) }
