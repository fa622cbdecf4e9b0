package storagetest

import (
	"fmt"
	"testing"

	"github.com/warbler-im/warbler/storage"
)

// Event relationships: which events are recorded as children, the pages
// of /relations, the thread list and the aggregation summaries, and how
// redacting a child takes it out of all of them.

var relationTests = []struct {
	name string
	run  func(t *testing.T, open Opener)
}{
	{"RelationsRecorded", testRelationsRecorded},
	{"RelationsPaging", testRelationsPaging},
	{"RelationSummaries", testRelationSummaries},
	{"RelationsRedacted", testRelationsRedacted},
	{"ThreadRoots", testThreadRoots},
	{"HasAnnotation", testHasAnnotation},
	{"SummariesOfEventsRelatedBeforeTheyArrived", testSummariesOfEventsRelatedBeforeTheyArrived},
}

const carol = "@carol:example.org"

// relContent is message content relating to parent.
func relContent(relType, parent, body string, newContent bool) string {
	extra := ""
	if newContent {
		extra = fmt.Sprintf(`,"m.new_content":{"msgtype":"m.text","body":%q}`, body)
	}
	return fmt.Sprintf(`{"msgtype":"m.text","body":%q,"m.relates_to":{"rel_type":%q,"event_id":%q}%s}`, body, relType, parent, extra)
}

// relate sends a message relating to parent.
func (r *testRoom) relate(sender, relType, parent string, newContent bool) storage.NewEvent {
	r.t.Helper()
	ev := r.event("m.room.message", nil, sender, relContent(relType, parent, "rel", newContent))
	r.apply(ev)
	return ev
}

func allRelations(t *testing.T, db storage.Database, q storage.RelationsQuery) []string {
	t.Helper()
	if q.Limit == 0 {
		q.Limit = 100
	}
	if q.From == (storage.TopoPos{}) && q.To == (storage.TopoPos{}) {
		q.From, q.To, q.Backwards = storage.TopoMax, storage.TopoMin, true
	}
	evs, err := db.Relations(t.Context(), q)
	noErr(t, "Relations", err)
	return eventIDsOf(evs)
}

func testRelationsRecorded(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	r := newTestRoom(t, db, "relrec", alice)
	r.member(alice, "join")
	root, _ := r.message(alice, "root")
	good := r.relate(alice, storage.RelThread, root.EventID, false)

	// Rejected, soft-failed and outlier children relate nothing.
	rejected := r.event("m.room.message", nil, bob, relContent(storage.RelThread, root.EventID, "x", false))
	rejected.Rejected = "not in room"
	r.persist([]storage.NewEvent{rejected}, storage.RoomUpdate{})
	soft := r.event("m.room.message", nil, bob, relContent(storage.RelThread, root.EventID, "x", false))
	soft.SoftFailed = true
	r.persist([]storage.NewEvent{soft}, storage.RoomUpdate{})
	outlier := r.event("m.room.message", nil, bob, relContent(storage.RelThread, root.EventID, "x", false))
	outlier.Outlier = true
	r.persist([]storage.NewEvent{outlier}, storage.RoomUpdate{})
	// Malformed relations are ignored: no rel_type, a parent that is not
	// an event ID, a relation to itself.
	for _, content := range []string{
		fmt.Sprintf(`{"m.relates_to":{"event_id":%q}}`, root.EventID),
		`{"m.relates_to":{"rel_type":"m.thread","event_id":"not-an-id"}}`,
		`{"m.relates_to":{"rel_type":"m.thread","event_id":7}}`,
		`{"m.relates_to":"m.thread"}`,
	} {
		r.apply(r.event("m.room.message", nil, alice, content))
	}
	wantEqual(t, "children", allRelations(t, db, storage.RelationsQuery{RoomID: r.id, EventID: root.EventID}), []string{good.EventID})

	// A de-outliered child is recorded once it has its place.
	outlier.Outlier = false
	outlier.StateBefore = storage.StateRef{Base: r.snapshot}
	r.persist([]storage.NewEvent{outlier}, storage.RoomUpdate{})
	wantEqual(t, "children after de-outlier", allRelations(t, db, storage.RelationsQuery{RoomID: r.id, EventID: root.EventID}),
		[]string{outlier.EventID, good.EventID})

	// A child in another room does not count for this room's parent.
	other := newTestRoom(t, db, "relrec2", alice)
	other.member(alice, "join")
	other.relate(alice, storage.RelThread, root.EventID, false)
	wantEqual(t, "children after other room", allRelations(t, db, storage.RelationsQuery{RoomID: r.id, EventID: root.EventID}),
		[]string{outlier.EventID, good.EventID})
	sums, err := db.RelationSummaries(ctx, alice, []storage.RelationParent{{EventID: root.EventID, RoomID: r.id}})
	noErr(t, "RelationSummaries", err)
	wantEqual(t, "thread count", sums[root.EventID].ThreadCount, 2)

	_, err = db.Relations(ctx, storage.RelationsQuery{RoomID: "!nope:example.org", EventID: root.EventID, Limit: 1})
	wantErr(t, "Relations(unknown room)", err, storage.ErrNotFound)
}

func testRelationsPaging(t *testing.T, open Opener) {
	db := openDB(t, open)
	r := newTestRoom(t, db, "relpage", alice)
	r.member(alice, "join")
	root, _ := r.message(alice, "root")
	var thread []string
	for range 5 {
		thread = append(thread, r.relate(alice, storage.RelThread, root.EventID, false).EventID)
	}
	ref := r.relate(bob, storage.RelReference, root.EventID, false)
	// An edit of a threaded reply: a child of a child.
	edit := r.relate(alice, storage.RelReplace, thread[4], true)
	reaction := r.event("m.reaction", nil, bob, fmt.Sprintf(`{"m.relates_to":{"rel_type":"m.annotation","event_id":%q,"key":"+1"}}`, root.EventID))
	r.apply(reaction)

	q := storage.RelationsQuery{RoomID: r.id, EventID: root.EventID}
	wantEqual(t, "all", allRelations(t, db, q), []string{reaction.EventID, ref.EventID, thread[4], thread[3], thread[2], thread[1], thread[0]})
	q.RelType = storage.RelThread
	wantEqual(t, "threads", allRelations(t, db, q), []string{thread[4], thread[3], thread[2], thread[1], thread[0]})
	q.EventType = "m.reaction"
	wantEqual(t, "threads of type m.reaction", allRelations(t, db, q), []string{})
	q.RelType, q.EventType = "", "m.reaction"
	wantEqual(t, "m.reaction", allRelations(t, db, q), []string{reaction.EventID})
	q.EventType, q.Recurse = "", true
	wantEqual(t, "recursive", allRelations(t, db, q), []string{reaction.EventID, edit.EventID, ref.EventID, thread[4], thread[3], thread[2], thread[1], thread[0]})
	// Filters apply at every level: the edit is reached only through a
	// thread event, so filtering by m.replace finds nothing.
	q.RelType = storage.RelReplace
	wantEqual(t, "recursive m.replace", allRelations(t, db, q), []string{})

	// Pages of two, backwards then forwards, each continuing from the
	// position of the last event of the page before.
	ctx := t.Context()
	page := storage.RelationsQuery{RoomID: r.id, EventID: root.EventID, RelType: storage.RelThread, From: storage.TopoMax, To: storage.TopoMin, Backwards: true, Limit: 2}
	var got []string
	for range 4 {
		evs, err := db.Relations(ctx, page)
		noErr(t, "Relations page", err)
		if len(evs) == 0 {
			break
		}
		got = append(got, eventIDsOf(evs)...)
		page.From = evs[len(evs)-1].Topo
	}
	wantEqual(t, "backward pages", got, []string{thread[4], thread[3], thread[2], thread[1], thread[0]})
	page = storage.RelationsQuery{RoomID: r.id, EventID: root.EventID, RelType: storage.RelThread, From: storage.TopoMin, To: storage.TopoMax, Limit: 3}
	evs, err := db.Relations(ctx, page)
	noErr(t, "Relations forwards", err)
	wantEqual(t, "forward page", eventIDsOf(evs), thread[:3])
	evs, err = db.Relations(ctx, storage.RelationsQuery{RoomID: r.id, EventID: root.EventID, RelType: storage.RelThread,
		From: evs[0].Topo, To: evs[2].Topo, Limit: 10})
	noErr(t, "Relations between", err)
	wantEqual(t, "strictly between", eventIDsOf(evs), thread[1:2])
}

func testRelationSummaries(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	r := newTestRoom(t, db, "relsum", alice)
	r.member(alice, "join")
	root, _ := r.message(alice, "root")
	plain, _ := r.message(bob, "plain")
	r.relate(alice, storage.RelReplace, root.EventID, true)  // older than the ties below
	r.relate(bob, storage.RelReplace, root.EventID, true)    // another sender: not an edit
	r.relate(alice, storage.RelReplace, root.EventID, false) // no m.new_content
	notice := r.event("m.room.notice", nil, alice, relContent(storage.RelReplace, root.EventID, "t", true))
	r.apply(notice) // another type
	// Two edits with one timestamp: the larger event ID wins.
	tieA := r.event("m.room.message", nil, alice, relContent(storage.RelReplace, root.EventID, "a", true))
	tieB := r.event("m.room.message", nil, alice, relContent(storage.RelReplace, root.EventID, "b", true))
	tieA.EventID, tieB.EventID = "$relsum_zz", "$relsum_zy"
	tieA.OriginServerTS, tieB.OriginServerTS = baseTS+1000, baseTS+1000
	r.apply(tieA)
	r.apply(tieB)
	r.relate(bob, storage.RelThread, root.EventID, false)
	t2 := r.relate(carol, storage.RelThread, root.EventID, false)
	ref1 := r.relate(bob, storage.RelReference, root.EventID, false)
	ref2 := r.relate(bob, storage.RelReference, root.EventID, false)

	parents := []storage.RelationParent{
		{EventID: root.EventID, RoomID: r.id, Replace: true},
		{EventID: plain.EventID, RoomID: r.id, Replace: true},
		{EventID: "$unknown", RoomID: "!unknown:example.org", Replace: true},
	}
	sums, err := db.RelationSummaries(ctx, carol, parents)
	noErr(t, "RelationSummaries", err)
	wantEqual(t, "summaries", sums, map[string]storage.RelationSummary{root.EventID: {
		Replace: tieA.EventID, ThreadCount: 2, ThreadLatest: t2.EventID, ThreadParticipated: true,
		References: []string{ref1.EventID, ref2.EventID},
	}})
	sums, err = db.RelationSummaries(ctx, alice, parents[:1])
	noErr(t, "RelationSummaries(alice)", err)
	if sums[root.EventID].ThreadParticipated {
		t.Error("alice sent no thread event, yet ThreadParticipated (the root's sender is the caller's to add)")
	}
	// Without Replace the edit is not looked up.
	sums, err = db.RelationSummaries(ctx, alice, []storage.RelationParent{{EventID: root.EventID, RoomID: r.id}})
	noErr(t, "RelationSummaries(no replace)", err)
	wantEqual(t, "no replace", sums[root.EventID].Replace, "")
	sums, err = db.RelationSummaries(ctx, alice, nil)
	noErr(t, "RelationSummaries(none)", err)
	wantEqual(t, "none", len(sums), 0)
}

func testRelationsRedacted(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	r := newTestRoom(t, db, "relred", alice)
	r.member(alice, "join")
	root, _ := r.message(alice, "root")
	e1 := r.relate(alice, storage.RelReplace, root.EventID, true)
	e2 := r.relate(alice, storage.RelReplace, root.EventID, true)
	t1 := r.relate(bob, storage.RelThread, root.EventID, false)
	t2 := r.relate(bob, storage.RelThread, root.EventID, false)
	redaction, _ := r.message(alice, "stand-in for a redaction")
	summary := func() storage.RelationSummary {
		t.Helper()
		sums, err := db.RelationSummaries(ctx, bob, []storage.RelationParent{{EventID: root.EventID, RoomID: r.id, Replace: true}})
		noErr(t, "RelationSummaries", err)
		return sums[root.EventID]
	}
	wantEqual(t, "before", summary(), storage.RelationSummary{Replace: e2.EventID, ThreadCount: 2, ThreadLatest: t2.EventID, ThreadParticipated: true})

	noErr(t, "MarkRedacted(e2)", db.MarkRedacted(ctx, e2.EventID, redaction.EventID))
	noErr(t, "MarkRedacted(t2)", db.MarkRedacted(ctx, t2.EventID, redaction.EventID))
	wantEqual(t, "after", summary(), storage.RelationSummary{Replace: e1.EventID, ThreadCount: 1, ThreadLatest: t1.EventID, ThreadParticipated: true})
	wantEqual(t, "children", allRelations(t, db, storage.RelationsQuery{RoomID: r.id, EventID: root.EventID}), []string{t1.EventID, e1.EventID})
	roots, err := db.ThreadRoots(ctx, r.id, bob, false, storage.TopoMax, 10)
	noErr(t, "ThreadRoots", err)
	wantEqual(t, "thread latest after redaction", roots, []storage.ThreadRoot{{EventID: root.EventID, Latest: topoOf(t, db, t1.EventID)}})

	noErr(t, "MarkRedacted(e1)", db.MarkRedacted(ctx, e1.EventID, redaction.EventID))
	noErr(t, "MarkRedacted(t1)", db.MarkRedacted(ctx, t1.EventID, redaction.EventID))
	noErr(t, "MarkRedacted(t1) again", db.MarkRedacted(ctx, t1.EventID, redaction.EventID))
	wantEqual(t, "all redacted", summary(), storage.RelationSummary{})
	roots, err = db.ThreadRoots(ctx, r.id, bob, false, storage.TopoMax, 10)
	noErr(t, "ThreadRoots", err)
	wantEqual(t, "no threads left", roots, []storage.ThreadRoot{})
	// Redacting the parent leaves nothing to forget.
	noErr(t, "MarkRedacted(root)", db.MarkRedacted(ctx, root.EventID, redaction.EventID))
}

func topoOf(t *testing.T, db storage.Database, eventID string) storage.TopoPos {
	t.Helper()
	evs, err := db.Events(t.Context(), []string{eventID})
	noErr(t, "Events", err)
	if len(evs) != 1 {
		t.Fatalf("event %s not stored", eventID)
	}
	return evs[0].Topo
}

func testThreadRoots(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	r := newTestRoom(t, db, "threads", alice)
	r.member(alice, "join")
	a, _ := r.message(alice, "thread a")
	b, _ := r.message(bob, "thread b")
	c, _ := r.message(carol, "thread c")
	r.relate(bob, storage.RelThread, a.EventID, false)
	r.relate(alice, storage.RelThread, b.EventID, false)
	lastC := r.relate(bob, storage.RelThread, c.EventID, false)
	lastA := r.relate(bob, storage.RelThread, a.EventID, false) // a has the latest activity

	roots, err := db.ThreadRoots(ctx, r.id, alice, false, storage.TopoMax, 10)
	noErr(t, "ThreadRoots", err)
	wantEqual(t, "all threads", roots, []storage.ThreadRoot{
		{EventID: a.EventID, Latest: topoOf(t, db, lastA.EventID)},
		{EventID: c.EventID, Latest: topoOf(t, db, lastC.EventID)},
		{EventID: b.EventID, Latest: roots[2].Latest},
	})
	page, err := db.ThreadRoots(ctx, r.id, alice, false, roots[0].Latest, 1)
	noErr(t, "ThreadRoots page", err)
	wantEqual(t, "second page", page, roots[1:2])
	// alice started a and replied in b; carol started c; nobody else.
	for _, tc := range []struct {
		user string
		want []string
	}{
		{alice, []string{a.EventID, b.EventID}},
		{bob, []string{a.EventID, c.EventID, b.EventID}},
		{carol, []string{c.EventID}},
		{"@dave:example.org", nil},
	} {
		got, err := db.ThreadRoots(ctx, r.id, tc.user, true, storage.TopoMax, 10)
		ids := make([]string, 0, len(got))
		for _, g := range got {
			ids = append(ids, g.EventID)
		}
		wantStrings(t, "participated "+tc.user, ids, err, tc.want...)
	}
	_, err = db.ThreadRoots(ctx, "!nope:example.org", alice, false, storage.TopoMax, 10)
	wantErr(t, "ThreadRoots(unknown room)", err, storage.ErrNotFound)
}

// testSummariesOfEventsRelatedBeforeTheyArrived: a store may know that an
// event it has just written has no relations; a relation stored before
// its parent (federation delivers out of order), or while the parent was
// an outlier, must still show in the parent's summary.
func testSummariesOfEventsRelatedBeforeTheyArrived(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	r := newTestRoom(t, db, "relearly", alice)
	r.member(alice, "join")
	summary := func(parent string) storage.RelationSummary {
		t.Helper()
		sums, err := db.RelationSummaries(ctx, alice, []storage.RelationParent{{EventID: parent, RoomID: r.id}})
		noErr(t, "RelationSummaries", err)
		return sums[parent]
	}
	fresh, _ := r.message(alice, "no relations yet")
	wantEqual(t, "a fresh event's thread count", summary(fresh.EventID).ThreadCount, 0)
	r.relate(alice, storage.RelThread, fresh.EventID, false)
	wantEqual(t, "after a relation to it", summary(fresh.EventID).ThreadCount, 1)

	// The child first, then its parent.
	parent := r.event("m.room.message", nil, alice, `{"body":"late parent"}`)
	r.relate(bob, storage.RelThread, parent.EventID, false)
	r.apply(parent)
	wantEqual(t, "a parent stored after its child", summary(parent.EventID).ThreadCount, 1)

	// The parent as an outlier, a child, then the parent in the timeline.
	outlier := r.event("m.room.message", nil, alice, `{"body":"outlier parent"}`)
	outlier.Outlier = true
	r.persist([]storage.NewEvent{outlier}, storage.RoomUpdate{})
	r.relate(bob, storage.RelThread, outlier.EventID, false)
	outlier.Outlier = false
	outlier.StateBefore = storage.StateRef{Base: r.snapshot}
	r.persist([]storage.NewEvent{outlier}, storage.RoomUpdate{})
	wantEqual(t, "a de-outliered parent", summary(outlier.EventID).ThreadCount, 1)
}
