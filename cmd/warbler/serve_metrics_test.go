package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/warbler-im/warbler/config"
)

// TestMetricsHandlerPprof: the profiler is on the metrics listener only
// when asked for, and /metrics is served either way.
func TestMetricsHandlerPprof(t *testing.T) {
	for _, tc := range []struct {
		pprof     bool
		wantPprof bool
	}{{false, false}, {true, true}} {
		h := metricsHandler(config.Metrics{Enabled: true, Listen: "127.0.0.1:0", Pprof: tc.pprof}, prometheus.NewRegistry())
		get := func(path string) (int, string) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			return rec.Code, rec.Body.String()
		}
		if code, _ := get("/metrics"); code != http.StatusOK {
			t.Errorf("pprof %v: /metrics status %d", tc.pprof, code)
		}
		code, body := get("/debug/pprof/")
		if got := code == http.StatusOK && strings.Contains(body, "goroutine"); got != tc.wantPprof {
			t.Errorf("pprof %v: /debug/pprof/ served the profiler = %v (status %d)", tc.pprof, got, code)
		}
	}
}
