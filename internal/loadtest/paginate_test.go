package loadtest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

// A server without /messages gets a note, not an error count: the tool
// must work against servers that lack an endpoint.
func TestPaginateSkipsUnservedMessages(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"errcode":"M_UNRECOGNIZED","error":"Unrecognized request"}`))
	}))
	defer srv.Close()
	r := &runner{cfg: Config{URL: srv.URL, Messages: 10}.withDefaults()}
	r.c = &client{hc: srv.Client(), base: srv.URL, errs: &errorCounter{}}
	r.paginate(context.Background(), &user{token: "t"}, "!room:hs")
	if len(r.notes) != 1 || len(r.c.errs.snapshot()) != 0 || r.stats.messagesPage.summary().Count != 0 {
		t.Errorf("notes %v, errors %v", r.notes, r.c.errs.snapshot())
	}
}

// Other failures are counted under their errcode.
func TestClientCountsErrcodes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"errcode":"M_LIMIT_EXCEEDED"}`))
	}))
	defer srv.Close()
	c := &client{hc: srv.Client(), base: srv.URL, errs: &errorCounter{}}
	for range 2 {
		if c.call(context.Background(), "GET", "/x", "", nil, nil) == nil {
			t.Fatal("429 is an error")
		}
	}
	if got := c.errs.snapshot(); got["M_LIMIT_EXCEEDED"] != 2 || len(got) != 1 {
		t.Errorf("counts %v", got)
	}
}
