package clientapi

import (
	"fmt"
	"strconv"
	"strings"
)

// streamID names one of /sync's streams besides room events (DESIGN.md,
// "Sync as several streams"). Each has its own position, its letter in
// sync tokens, and a syncStream that reads it.
type streamID uint8

const (
	streamTyping streamID = iota
	streamReceipts
	streamAccountData
	streamPresence
	streamToDevice
	streamDeviceLists
	numStreams
	// streamEvents is the room events stream. Its position is
	// syncToken.Events; the notifier files its notices under this ID.
	streamEvents = numStreams
)

// streamLetters are the streams' letters in sync tokens ("s" is room events).
var streamLetters = [numStreams]byte{'t', 'r', 'a', 'p', 'd', 'k'}

// A sync token is the tuple of the positions of the streams a sync has
// delivered: "s" and the room events position, then "_"-separated parts
// of a letter and a position for each other stream that has moved from 0
// ("s123_t4_r9"). Letters this version does not know are skipped, so a
// token from a newer process still resumes the streams this one has.
type syncToken struct {
	Events  int64             // room events stream position
	Streams [numStreams]int64 // other streams' positions, by streamID
}

// pos is the position of any stream, room events included.
func (t syncToken) pos(id streamID) int64 {
	if id == streamEvents {
		return t.Events
	}
	return t.Streams[id]
}

func (t syncToken) String() string {
	var b strings.Builder
	b.WriteByte('s')
	b.WriteString(strconv.FormatInt(t.Events, 10))
	for id, p := range t.Streams {
		if p != 0 {
			b.WriteByte('_')
			b.WriteByte(streamLetters[id])
			b.WriteString(strconv.FormatInt(p, 10))
		}
	}
	return b.String()
}

// parseSyncToken reads a token made by String.
func parseSyncToken(s string) (syncToken, error) {
	var tok syncToken
	found := false
	for _, part := range strings.Split(s, "_") {
		if len(part) < 2 {
			continue
		}
		target := tokenPart(&tok, part[0])
		if target == nil {
			continue
		}
		pos, err := strconv.ParseInt(part[1:], 10, 64)
		if err != nil || pos < 0 {
			return syncToken{}, fmt.Errorf("bad stream position %q in %q", part, s)
		}
		*target = pos
		found = found || part[0] == 's'
	}
	if !found {
		return syncToken{}, fmt.Errorf("no room events position in %q", s)
	}
	return tok, nil
}

// tokenPart is where the position with letter goes, nil if unknown.
func tokenPart(tok *syncToken, letter byte) *int64 {
	if letter == 's' {
		return &tok.Events
	}
	for id, l := range streamLetters {
		if l == letter {
			return &tok.Streams[id]
		}
	}
	return nil
}

// prevBatchToken names where a timeline starts, for /messages to page
// back from: "t" depth "-" stream of its first event, a topological
// position (storage.TopoPos). NOTE: the /messages engineer owns the
// pagination token format; this must match what /messages parses.
func prevBatchToken(depth, stream int64) string {
	return "t" + strconv.FormatInt(depth, 10) + "-" + strconv.FormatInt(stream, 10)
}
