package loadtest

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// SchemaVersion names the JSON layout below. Bump it when a field changes
// meaning or disappears; adding fields keeps the version.
const SchemaVersion = "warbler-bench/1"

// Report is the result of one run. JSON schema (SchemaVersion):
//
//	schema               string   always SchemaVersion
//	url                  string   homeserver base URL
//	run_id               string   marker namespace of this run
//	users, rooms, messages, concurrency  int  the requested sizes
//	registration         string   "dummy" or "shared-secret"
//	duration_s           float    whole run, wall clock
//	messages_sent        int      sends answered 200
//	messages_failed      int      messages not sent successfully (failed, or not
//	                              attempted before the timeout)
//	messages_delivered   int      successful sends a listener saw in /sync
//	throughput_msgs_per_s float   messages_sent / send phase wall time
//	register, login, create_room, join, send, delivery, delivery_after_ack,
//	initial_sync, messages_page  Summary  {count, mean_ms, p50_ms, p95_ms, p99_ms, max_ms}
//	                     delivery: from the send request going out to a
//	                     listener's /sync showing the event; delivery_after_ack:
//	                     from the send's answer to that sight (0 if it came first)
//	errors               object   errcode (or "transport", "HTTP_<status>") -> count
//	notes                []string phases skipped or cut short, and why
type Report struct {
	Schema       string `json:"schema"`
	URL          string `json:"url"`
	RunID        string `json:"run_id"`
	Users        int    `json:"users"`
	Rooms        int    `json:"rooms"`
	Messages     int    `json:"messages"`
	Concurrency  int    `json:"concurrency"`
	Registration string `json:"registration"`

	DurationS         float64 `json:"duration_s"`
	MessagesSent      int     `json:"messages_sent"`
	MessagesFailed    int     `json:"messages_failed"`
	MessagesDelivered int     `json:"messages_delivered"`
	Throughput        float64 `json:"throughput_msgs_per_s"`

	Register     Summary `json:"register"`
	Login        Summary `json:"login"`
	CreateRoom   Summary `json:"create_room"`
	Join         Summary `json:"join"`
	Send         Summary `json:"send"`
	Delivery     Summary `json:"delivery"`
	AfterAck     Summary `json:"delivery_after_ack"`
	InitialSync  Summary `json:"initial_sync"`
	MessagesPage Summary `json:"messages_page"`

	Errors map[string]int `json:"errors"`
	Notes  []string       `json:"notes"`
}

// WriteText prints the report for a person at a terminal.
func (r *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "warbler bench against %s (run %s)\n", r.URL, r.RunID)
	fmt.Fprintf(w, "  %d users, %d rooms, %d messages, concurrency %d, registration %s\n",
		r.Users, r.Rooms, r.Messages, r.Concurrency, r.Registration)
	fmt.Fprintf(w, "  took %.1fs; sent %d, failed %d, delivered %d; throughput %.1f msg/s\n\n",
		r.DurationS, r.MessagesSent, r.MessagesFailed, r.MessagesDelivered, r.Throughput)
	fmt.Fprintf(w, "  %-14s %7s %9s %9s %9s %9s %9s\n", "operation", "count", "mean ms", "p50 ms", "p95 ms", "p99 ms", "max ms")
	for _, row := range r.rows() {
		s := row.s
		fmt.Fprintf(w, "  %-14s %7d %9.1f %9.1f %9.1f %9.1f %9.1f\n", row.name, s.Count, s.MeanMs, s.P50Ms, s.P95Ms, s.P99Ms, s.MaxMs)
	}
	if len(r.Errors) > 0 {
		fmt.Fprintf(w, "\n  errors: %s\n", formatErrors(r.Errors))
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
}

type row struct {
	name string
	s    Summary
}

func (r *Report) rows() []row {
	return []row{
		{"register", r.Register}, {"login", r.Login}, {"create room", r.CreateRoom},
		{"join", r.Join}, {"send", r.Send}, {"delivery", r.Delivery},
		{"after ack", r.AfterAck},
		{"initial sync", r.InitialSync}, {"messages page", r.MessagesPage},
	}
}

// formatErrors lists errcodes sorted, so output is stable between runs.
func formatErrors(errs map[string]int) string {
	codes := make([]string, 0, len(errs))
	for c := range errs {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	parts := make([]string, len(codes))
	for i, c := range codes {
		parts[i] = fmt.Sprintf("%s x%d", c, errs[c])
	}
	return strings.Join(parts, ", ")
}
