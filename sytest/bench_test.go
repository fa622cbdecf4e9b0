package sytest

import (
	"context"
	"testing"
	"time"

	"github.com/warbler-im/warbler/internal/loadtest"
	"github.com/warbler-im/warbler/sytest/harness"
)

// benchEnv lets the load tool register freely and never be throttled, as
// an operator benchmarking a server would configure it.
var benchEnv = []string{"WARBLER_REGISTRATION__ENABLED=true", "WARBLER_RATE_LIMITS__ENABLED=false"}

// TestBenchTinyRun runs `warbler bench`'s logic in-process against a real
// server at a tiny size and checks the run is complete and its report
// consistent. Timings are only checked for sanity, never against
// thresholds: speed belongs to benchmarks, not to tests.
func TestBenchTinyRun(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := harness.Start(t, harness.Options{Backend: backend, Env: benchEnv})
		rep := runTinyBench(t, loadtest.Config{URL: s.ClientURL, Registration: loadtest.RegDummy})
		checkTinyReport(t, rep)
	})
}

// TestBenchSharedSecretRegistration covers the other way of making the
// accounts: the Synapse-compatible admin API.
func TestBenchSharedSecretRegistration(t *testing.T) {
	env := append([]string{"WARBLER_REGISTRATION__SHARED_SECRET=bench-secret"}, benchEnv...)
	s := harness.Start(t, harness.Options{Backend: harness.SQLite, Env: env})
	rep := runTinyBench(t, loadtest.Config{
		URL: s.ClientURL, Registration: loadtest.RegSharedSecret, SharedSecret: "bench-secret",
	})
	checkTinyReport(t, rep)
}

func runTinyBench(t *testing.T, cfg loadtest.Config) *loadtest.Report {
	t.Helper()
	cfg.Users, cfg.Rooms, cfg.Messages, cfg.Concurrency = 4, 2, 40, 2
	// Generous bound so a slow CI machine cannot hang the test forever.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := loadtest.Run(ctx, cfg)
	if err != nil {
		t.Fatalf("bench: %v", err)
	}
	return rep
}

func checkTinyReport(t *testing.T, rep *loadtest.Report) {
	t.Helper()
	if rep.MessagesSent != 40 || rep.MessagesFailed != 0 || rep.MessagesDelivered != 40 {
		t.Errorf("sent %d, failed %d, delivered %d; want all 40 sent and delivered",
			rep.MessagesSent, rep.MessagesFailed, rep.MessagesDelivered)
	}
	if len(rep.Errors) != 0 || len(rep.Notes) != 0 {
		t.Errorf("errors %v, notes %v", rep.Errors, rep.Notes)
	}
	counts := map[string]struct{ got, want int }{
		"register":     {rep.Register.Count, 4},
		"login":        {rep.Login.Count, 4},
		"create room":  {rep.CreateRoom.Count, 2},
		"join":         {rep.Join.Count, 2 * 3}, // each room's creator is already in
		"send":         {rep.Send.Count, 40},
		"delivery":     {rep.Delivery.Count, 40},
		"initial sync": {rep.InitialSync.Count, 4},
	}
	for name, c := range counts {
		if c.got != c.want {
			t.Errorf("%s: %d samples, want %d", name, c.got, c.want)
		}
	}
	if rep.MessagesPage.Count < 1 {
		t.Error("no /messages page was timed")
	}
	for name, sum := range map[string]loadtest.Summary{"send": rep.Send, "delivery": rep.Delivery, "initial sync": rep.InitialSync} {
		if sum.MaxMs <= 0 || sum.P50Ms > sum.P95Ms || sum.P95Ms > sum.P99Ms || sum.P99Ms > sum.MaxMs {
			t.Errorf("%s: percentiles out of order or empty: %+v", name, sum)
		}
	}
	if rep.Throughput <= 0 || rep.DurationS <= 0 {
		t.Errorf("throughput %v over %vs", rep.Throughput, rep.DurationS)
	}
}
