package loadtest

import (
	"fmt"
	"strconv"
	"strings"
)

// markerPrefix starts every benchmark message body. Listeners identify a
// message by its body rather than its event ID, because the event ID is only
// known once the send returns, and the event may reach /sync before that.
const markerPrefix = "warbler-bench"

// Marker is the body of message seq in the run identified by runID.
func Marker(runID string, seq int) string {
	return fmt.Sprintf("%s %s #%d", markerPrefix, runID, seq)
}

// ParseMarker returns the sequence number in body if body is a marker of
// this run; messages of other runs (or people) in the same room are ignored.
func ParseMarker(body, runID string) (int, bool) {
	rest, ok := strings.CutPrefix(body, markerPrefix+" "+runID+" #")
	if !ok || rest == "" {
		return 0, false
	}
	seq, err := strconv.Atoi(rest)
	if err != nil || seq < 0 {
		return 0, false
	}
	return seq, true
}
