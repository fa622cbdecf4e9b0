package loadtest

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func msDurations(vals ...int) []time.Duration {
	out := make([]time.Duration, len(vals))
	for i, v := range vals {
		out[i] = time.Duration(v) * time.Millisecond
	}
	return out
}

func TestPercentileNearestRank(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	cases := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"single", msDurations(7), 99, 7 * time.Millisecond},
		{"p50 of 1..100", hundred, 50, 50 * time.Millisecond},
		{"p95 of 1..100", hundred, 95, 95 * time.Millisecond},
		{"p99 of 1..100", hundred, 99, 99 * time.Millisecond},
		{"p100 is the max", hundred, 100, 100 * time.Millisecond},
		{"p50 of four picks the second", msDurations(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p99 of four is the max", msDurations(1, 2, 3, 4), 99, 4 * time.Millisecond},
		{"p0 clamps to the min", msDurations(1, 2, 3), 0, time.Millisecond},
	}
	for _, tc := range cases {
		if got := Percentile(tc.sorted, tc.p); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestSummarizeSortsACopy(t *testing.T) {
	in := msDurations(30, 10, 20, 40)
	s := Summarize(in)
	want := Summary{Count: 4, MeanMs: 25, P50Ms: 20, P95Ms: 40, P99Ms: 40, MaxMs: 40}
	if s != want {
		t.Errorf("got %+v, want %+v", s, want)
	}
	if in[0] != 30*time.Millisecond {
		t.Error("Summarize reordered its input")
	}
	if (Summarize(nil) != Summary{}) {
		t.Error("empty input gives a zero summary")
	}
	if got := Summarize([]time.Duration{1500 * time.Microsecond}).P50Ms; got != 1.5 {
		t.Errorf("sub-millisecond detail kept: got %v", got)
	}
}

func TestMarkerRoundTrip(t *testing.T) {
	for _, seq := range []int{0, 1, 1999, 123456} {
		got, ok := ParseMarker(Marker("ab12", seq), "ab12")
		if !ok || got != seq {
			t.Errorf("seq %d: got %d, %v", seq, got, ok)
		}
	}
}

func TestMarkerRejectsOthers(t *testing.T) {
	for _, body := range []string{
		"",
		"hello",
		Marker("other", 5),      // another run in the same room
		Marker("ab12", 5) + "x", // trailing junk
		"warbler-bench ab12 #",
		"warbler-bench ab12 #-3",
		"warbler-bench ab123 #5", // run ID that merely starts the same
		" " + Marker("ab12", 5),
	} {
		if seq, ok := ParseMarker(body, "ab12"); ok {
			t.Errorf("%q matched as %d", body, seq)
		}
	}
}

func TestTrackerCountsEachDeliveryOnce(t *testing.T) {
	tr := newTracker()
	t0 := time.Now()
	tr.begin(1, t0)
	tr.begin(2, t0)
	tr.begin(3, t0)
	tr.arrive(1, t0.Add(5*time.Millisecond)) // seen before the send returned
	tr.finished(1, t0.Add(8*time.Millisecond))
	tr.finished(2, t0.Add(3*time.Millisecond))
	if tr.allDelivered() {
		t.Error("2 not yet delivered")
	}
	tr.arrive(2, t0.Add(7*time.Millisecond))
	tr.arrive(2, t0.Add(9*time.Millisecond)) // a repeat is ignored
	tr.arrive(99, t0)                        // not ours
	tr.arrive(3, t0.Add(time.Millisecond))   // 3's send failed: not counted
	if !tr.allDelivered() || tr.delivered != 2 || tr.succeeded != 2 {
		t.Errorf("delivered %d of %d", tr.delivered, tr.succeeded)
	}
	got := Summarize(tr.deliveries())
	if got.Count != 2 || got.MaxMs != 7 {
		t.Errorf("deliveries: %+v", got)
	}
	// 1 was seen before its answer (0), 2 four ms after it; 3 failed.
	if got := Summarize(tr.afterAck()); got.Count != 2 || got.MaxMs != 4 || got.P50Ms != 0 {
		t.Errorf("after ack: %+v", got)
	}
}

func sampleReport() *Report {
	return &Report{
		Schema: SchemaVersion, URL: "http://hs", RunID: "ab12", Users: 4, Rooms: 2, Messages: 40,
		Concurrency: 2, Registration: RegDummy, DurationS: 1.5, MessagesSent: 40, MessagesDelivered: 40,
		Throughput: 123.4, Send: Summary{Count: 40, MeanMs: 2, P50Ms: 1.5, P95Ms: 3, P99Ms: 4, MaxMs: 5},
		Errors: map[string]int{"M_LIMIT_EXCEEDED": 3, "M_FORBIDDEN": 1}, Notes: []string{"pagination skipped"},
	}
}

func TestReportText(t *testing.T) {
	var buf bytes.Buffer
	sampleReport().WriteText(&buf)
	out := buf.String()
	for _, want := range []string{
		"warbler bench against http://hs (run ab12)",
		"4 users, 2 rooms, 40 messages, concurrency 2, registration dummy",
		"sent 40, failed 0, delivered 40; throughput 123.4 msg/s",
		"  send                40       2.0       1.5       3.0       4.0       5.0\n",
		"  delivery             0       0.0",
		"errors: M_FORBIDDEN x1, M_LIMIT_EXCEEDED x3\n", // sorted, stable
		"note: pagination skipped",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
}

// TestReportJSONSchema pins the documented keys: scripts comparing servers
// depend on them, so a rename must be a deliberate schema bump.
func TestReportJSONSchema(t *testing.T) {
	raw, err := json.Marshal(sampleReport())
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	keys := []string{"schema", "url", "run_id", "users", "rooms", "messages", "concurrency", "registration",
		"duration_s", "messages_sent", "messages_failed", "messages_delivered", "throughput_msgs_per_s",
		"register", "login", "create_room", "join", "send", "delivery", "delivery_after_ack", "initial_sync", "messages_page",
		"errors", "notes"}
	if len(got) != len(keys) {
		t.Errorf("report has %d keys, schema documents %d: %s", len(got), len(keys), raw)
	}
	for _, k := range keys {
		if _, ok := got[k]; !ok {
			t.Errorf("key %q missing", k)
		}
	}
	send := got["send"].(map[string]any)
	for _, k := range []string{"count", "mean_ms", "p50_ms", "p95_ms", "p99_ms", "max_ms"} {
		if _, ok := send[k]; !ok {
			t.Errorf("summary key %q missing", k)
		}
	}
	if got["schema"] != "warbler-bench/1" {
		t.Errorf("schema %v", got["schema"])
	}
}
