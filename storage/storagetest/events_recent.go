package storagetest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/warbler-im/warbler/storage"
)

// testRecentTimelineMatchesTheDatabase: a store may answer RoomEventsSince
// for recent ranges from memory. Its answers over a grid of ranges and
// limits must equal those of the same database reopened (cold, so read
// from disk), across a room with more events than any such memory keeps,
// rejected and soft-failed events, an outlier and a backfilled event
// among the newest; and
// a redaction must show in the next read.
func testRecentTimelineMatchesTheDatabase(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	a := newTestRoom(t, db, "busy", alice)
	a.member(alice, "join")
	b := newTestRoom(t, db, "quiet", alice)
	b.member(alice, "join")
	var lastMsg storage.NewEvent
	for i := range 45 {
		switch i {
		case 36:
			ev := a.event("m.room.message", nil, alice, `{"body":"rejected"}`)
			ev.Rejected = "not allowed"
			a.persist([]storage.NewEvent{ev}, storage.RoomUpdate{})
		case 38:
			ev := a.event("m.room.message", nil, alice, `{"body":"soft-failed"}`)
			ev.SoftFailed = true
			a.persist([]storage.NewEvent{ev}, storage.RoomUpdate{})
		case 40:
			out := a.event("m.room.message", nil, alice, `{"body":"outlier"}`)
			out.Outlier = true
			back := a.event("m.room.message", nil, alice, `{"body":"backfilled"}`)
			back.Depth, back.Backfilled, back.StateBefore = 1, true, storage.StateRef{}
			a.persist([]storage.NewEvent{out, back}, storage.RoomUpdate{})
		}
		lastMsg, _ = a.message(alice, fmt.Sprint("m", i))
		if i%9 == 0 {
			b.message(alice, fmt.Sprint("b", i))
		}
	}
	end, err := db.MaxStreamPosition(ctx)
	noErr(t, "MaxStreamPosition", err)
	grid := func(db storage.Database) map[string]string {
		out := map[string]string{}
		for since := int64(0); since <= end; since += 3 {
			for _, upTo := range []int64{since + 1, since + 7, end} {
				for _, limit := range []int{1, 5, 40} {
					got, err := db.RoomEventsSince(ctx, since, upTo, []string{a.id, b.id}, limit)
					noErr(t, "RoomEventsSince", err)
					out[fmt.Sprint(since, " ", upTo, " ", limit)] = describeTimelines(got)
				}
			}
		}
		return out
	}
	warm := grid(db)
	// A second handle on the same database has nothing in memory.
	cold := open(t)
	for key, want := range grid(cold) {
		if warm[key] != want {
			t.Errorf("RoomEventsSince(%s): from a warm store\n%s\nfrom a cold one\n%s", key, warm[key], want)
		}
	}
	noErr(t, "Close", cold.Close())

	noErr(t, "MarkRedacted", db.MarkRedacted(ctx, lastMsg.EventID, "$redaction"))
	got, err := db.RoomEventsSince(ctx, end-1, end, []string{a.id}, 5)
	noErr(t, "RoomEventsSince after the redaction", err)
	if len(got) != 1 || len(got[0].Events) != 1 || got[0].Events[0].RedactedBecause != "$redaction" {
		t.Fatalf("after the redaction: %+v", got)
	}
}

// describeTimelines writes timelines out whole, state keys and JSON as
// text, for comparing answers.
func describeTimelines(tls []storage.RoomTimeline) string {
	var b strings.Builder
	for _, tl := range tls {
		fmt.Fprintf(&b, "%s limited=%v\n", tl.RoomID, tl.Limited)
		for _, e := range tl.Events {
			key := "<none>"
			if e.StateKey != nil {
				key = *e.StateKey
			}
			fmt.Fprintf(&b, "  %s %s %q %s %d %d %+v %d %d %q %v %q %v %s\n", e.EventID, e.Type, key, e.Sender, e.Depth,
				e.OriginServerTS, e.Topo, e.StreamPos, e.StateBefore, e.Rejected, e.SoftFailed, e.RedactedBecause, e.Outlier, e.JSON)
		}
	}
	return b.String()
}
