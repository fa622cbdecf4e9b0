package mxhttp

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/warbler-im/warbler/mxcore"
)

type echoBody struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// testRouter wires the middleware as the server does, around handlers that
// exercise decoding and panics.
func testRouter(max int64) http.Handler {
	r := chi.NewRouter()
	r.Use(Recover, LogAndMeasure(NewMetrics(prometheus.NewRegistry())), CORS, LimitBody(max))
	r.NotFound(NotFound)
	r.MethodNotAllowed(MethodNotAllowed)
	r.Post("/echo", JSON(func(r *http.Request) (any, error) {
		var b echoBody
		if err := DecodeJSON(r, &b); err != nil {
			return nil, err
		}
		return b, nil
	}))
	r.Get("/panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
	return r
}

func TestErrorsAreMatrixJSON(t *testing.T) {
	h := testRouter(64)
	cases := []struct {
		name, method, path, body string
		status                   int
		errcode                  string
	}{
		{"ok", "POST", "/echo", `{"name":"a","count":2}`, 200, ""},
		{"not JSON", "POST", "/echo", `{"name":`, 400, "M_NOT_JSON"},
		{"empty body", "POST", "/echo", ``, 400, "M_NOT_JSON"},
		{"array", "POST", "/echo", `[]`, 400, "M_NOT_JSON"},
		{"wrong type", "POST", "/echo", `{"count":"many"}`, 400, "M_BAD_JSON"},
		{"too large", "POST", "/echo", `{"name":"` + strings.Repeat("x", 100) + `"}`, 413, "M_TOO_LARGE"},
		{"unknown path", "GET", "/nope", ``, 404, "M_UNRECOGNIZED"},
		{"wrong method", "GET", "/echo", ``, 405, "M_UNRECOGNIZED"},
		{"panic", "GET", "/panic", ``, 500, "M_UNKNOWN"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body)))
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			var body map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body not JSON: %s", rec.Body)
			}
			if got, _ := body["errcode"].(string); got != tc.errcode {
				t.Errorf("errcode %q, want %q", got, tc.errcode)
			}
			if tc.errcode != "" && body["error"] == "" {
				t.Error("error message missing")
			}
		})
	}
}

func TestTooLargeWithoutContentLength(t *testing.T) {
	h := testRouter(16)
	req := httptest.NewRequest("POST", "/echo", strings.NewReader(`{"name":"`+strings.Repeat("y", 64)+`"}`))
	req.ContentLength = -1 // streamed: only the reader can notice
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 413 || !strings.Contains(rec.Body.String(), "M_TOO_LARGE") {
		t.Fatalf("got %d %s", rec.Code, rec.Body)
	}
}

func TestCORSPreflight(t *testing.T) {
	rec := httptest.NewRecorder()
	testRouter(64).ServeHTTP(rec, httptest.NewRequest("OPTIONS", "/anything/at/all", nil))
	if rec.Code != http.StatusNoContent || rec.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("preflight: %d %v", rec.Code, rec.Header())
	}
	if !strings.Contains(rec.Header().Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Error("Authorization not allowed in CORS headers")
	}
}

// deadlineWriter records deadline changes, as net/http's own writer allows.
type deadlineWriter struct {
	*httptest.ResponseRecorder
	readDeadlineSet bool
}

func (d *deadlineWriter) SetReadDeadline(time.Time) error { d.readDeadlineSet = true; return nil }

// A handler behind the logging middleware must still reach the connection's
// deadlines (media uploads extend theirs); this failed before Unwrap existed.
func TestResponseControllerReachesThroughRecorder(t *testing.T) {
	h := LogAndMeasure(nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := http.NewResponseController(w).SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
			t.Errorf("SetReadDeadline: %v", err)
		}
	}))
	w := &deadlineWriter{ResponseRecorder: httptest.NewRecorder()}
	h.ServeHTTP(w, httptest.NewRequest("POST", "/upload", nil))
	if !w.readDeadlineSet {
		t.Fatal("deadline did not reach the underlying writer")
	}
}

// Rate-limit errors carry Retry-After in whole seconds, rounded up, so a
// client that obeys it is not refused again.
func TestRetryAfterHeader(t *testing.T) {
	for _, tc := range []struct {
		ms   int64
		want string
	}{{1, "1"}, {1000, "1"}, {1001, "2"}, {59_500, "60"}} {
		rec := httptest.NewRecorder()
		WriteError(rec, httptest.NewRequest("GET", "/", nil), mxcore.LimitExceeded(tc.ms))
		if got := rec.Header().Get("Retry-After"); got != tc.want || rec.Code != http.StatusTooManyRequests {
			t.Errorf("retry_after_ms %d: Retry-After %q status %d, want %q 429", tc.ms, got, rec.Code, tc.want)
		}
	}
}
