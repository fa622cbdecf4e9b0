package clientapi

import (
	"fmt"
	"strconv"
	"strings"
)

// A sync token is the tuple of the positions of the streams a sync has
// delivered (DESIGN.md, "Sync as several streams"). Only the room events
// stream exists so far: its token is "s" and the position, e.g. "s123".
// Later streams will follow as "_"-separated parts with their own letter
// ("s123_t4_r9"); parts this version does not know are skipped, so a
// token from a newer process still resumes the room stream.
type syncToken struct {
	Events int64 // room events stream position
}

func (t syncToken) String() string { return "s" + strconv.FormatInt(t.Events, 10) }

// parseSyncToken reads a token made by String.
func parseSyncToken(s string) (syncToken, error) {
	var tok syncToken
	found := false
	for _, part := range strings.Split(s, "_") {
		if len(part) < 2 || part[0] != 's' {
			continue
		}
		pos, err := strconv.ParseInt(part[1:], 10, 64)
		if err != nil || pos < 0 {
			return syncToken{}, fmt.Errorf("bad room events position in %q", s)
		}
		tok.Events, found = pos, true
	}
	if !found {
		return syncToken{}, fmt.Errorf("no room events position in %q", s)
	}
	return tok, nil
}

// prevBatchToken names where a timeline starts, for /messages to page
// back from: "t" depth "-" stream of its first event, a topological
// position (storage.TopoPos). NOTE: the /messages engineer owns the
// pagination token format; this must match what /messages parses.
func prevBatchToken(depth, stream int64) string {
	return "t" + strconv.FormatInt(depth, 10) + "-" + strconv.FormatInt(stream, 10)
}
