package storagetest

import (
	"fmt"
	"testing"

	"github.com/warbler-im/warbler/storage"
)

// searchTypes are all the searchable event types.
var searchTypes = []string{storage.SearchTypeMessage, storage.SearchTypeName, storage.SearchTypeTopic}

// searchIDs runs a search and returns the IDs of its hits, in order.
func searchIDs(t *testing.T, db storage.Database, q storage.SearchQuery) []string {
	t.Helper()
	hits, err := db.SearchEvents(t.Context(), q)
	if err != nil {
		t.Fatalf("SearchEvents(%+v): %v", q, err)
	}
	ids := make([]string, len(hits))
	for i, h := range hits {
		ids[i] = h.EventID
	}
	return ids
}

// testSearch: the index holds the searchable keys of visible timeline
// events only; a search is confined to its rooms, types and senders;
// both orders page with After; a redaction takes the event out.
func testSearch(t *testing.T, open Opener) {
	db := openDB(t, open)
	a := newTestRoom(t, db, "sa", alice)
	a.member(alice, "join")
	b := newTestRoom(t, db, "sb", bob)
	b.member(bob, "join")

	m1, _ := a.message(alice, "The orchard grows apples")
	m2, _ := a.message(bob, "apples apples apples everywhere")
	m3, _ := a.message(alice, "Running through the orchard")
	name, _ := a.sendState(storage.SearchTypeName, "", alice, `{"name":"Apple Club"}`)
	topic, _ := a.sendState(storage.SearchTypeTopic, "", alice,
		`{"topic":"Fruit talk","m.topic":[{"mimetype":"text/html","body":"<b>secretword</b>"},{"body":"pears and plums"}]}`)
	other, _ := b.message(bob, "apples in another room")
	a.message(alice, "nothing to see\u0000 here \xff") // odd text must not break the persist
	hiddenEvents(t, a)

	q := storage.SearchQuery{Words: []string{"apples"}, RoomIDs: []string{a.id}, Types: searchTypes, Limit: 10}
	wantEqual(t, "recent, room a", searchIDs(t, db, q), []string{name.EventID, m2.EventID, m1.EventID})
	q.RoomIDs = []string{a.id, b.id, "!unknown:example.org"}
	wantEqual(t, "recent, rooms a and b", searchIDs(t, db, q), []string{other.EventID, name.EventID, m2.EventID, m1.EventID})
	q.RoomIDs = []string{b.id}
	wantEqual(t, "room b only", searchIDs(t, db, q), []string{other.EventID})

	q = storage.SearchQuery{Words: []string{"run"}, RoomIDs: []string{a.id}, Types: searchTypes, Limit: 10}
	wantEqual(t, "stemming: run finds running", searchIDs(t, db, q), []string{m3.EventID})
	q.Words = []string{"orchard", "apples"}
	wantEqual(t, "every word must match", searchIDs(t, db, q), []string{m1.EventID})
	q.Words = []string{"plums"}
	wantEqual(t, "topic's text/plain representation", searchIDs(t, db, q), []string{topic.EventID})
	q.Words = []string{"secretword"}
	wantEqual(t, "topic's html representation is not indexed", searchIDs(t, db, q), []string{})
	q.Words = []string{"fruit"}
	wantEqual(t, "content.topic", searchIDs(t, db, q), []string{topic.EventID})
	q.Words = []string{"nothing"}
	wantEqual(t, "text with NUL and bad UTF-8", len(searchIDs(t, db, q)), 1)

	// An outlier is indexed once it joins the timeline.
	phoenix := a.event("m.room.message", nil, alice, `{"body":"phoenix rising"}`)
	phoenix.Outlier = true
	a.persist([]storage.NewEvent{phoenix}, storage.RoomUpdate{})
	q.Words = []string{"phoenix"}
	wantEqual(t, "outlier", searchIDs(t, db, q), []string{})
	phoenix.Outlier = false
	a.apply(phoenix)
	wantEqual(t, "de-outliered", searchIDs(t, db, q), []string{phoenix.EventID})

	testSearchFilters(t, db, a.id, m1, m2, name)
	testSearchOrderAndPages(t, db, a.id, m1, m2, name)

	redaction := a.event("m.room.redaction", nil, alice, `{}`)
	a.apply(redaction)
	noErr(t, "MarkRedacted", db.MarkRedacted(t.Context(), m2.EventID, redaction.EventID))
	q = storage.SearchQuery{Words: []string{"apples"}, RoomIDs: []string{a.id}, Types: searchTypes, Limit: 10}
	wantEqual(t, "after redacting m2", searchIDs(t, db, q), []string{name.EventID, m1.EventID})

	// The index survives a restart.
	reopened := openDB(t, open)
	wantEqual(t, "after reopening", searchIDs(t, reopened, q), []string{name.EventID, m1.EventID})
}

// hiddenEvents stores events holding "forbidden" that clients never see:
// rejected, soft-failed and outlier events. A search must not find them.
func hiddenEvents(t *testing.T, r *testRoom) {
	t.Helper()
	rejected := r.event("m.room.message", nil, alice, `{"body":"forbidden rejected"}`)
	rejected.Rejected = "not allowed"
	soft := r.event("m.room.message", nil, alice, `{"body":"forbidden soft"}`)
	soft.SoftFailed = true
	outlier := r.event("m.room.message", nil, alice, `{"body":"forbidden outlier"}`)
	outlier.Outlier = true
	r.persist([]storage.NewEvent{rejected, soft, outlier}, storage.RoomUpdate{})
	wrongKey := r.event(storage.SearchTypeName, ptr("x"), alice, `{"name":"forbidden name with a state key"}`)
	r.apply(wrongKey)
	notString := r.event("m.room.message", nil, alice, `{"body":{"forbidden":1}}`)
	r.apply(notString)
	q := storage.SearchQuery{Words: []string{"forbidden"}, RoomIDs: []string{r.id}, Types: searchTypes, Limit: 10}
	wantEqual(t, "hidden events", searchIDs(t, r.db, q), []string{})
}

func testSearchFilters(t *testing.T, db storage.Database, roomID string, m1, m2, name storage.NewEvent) {
	t.Helper()
	q := storage.SearchQuery{Words: []string{"apples"}, RoomIDs: []string{roomID}, Types: []string{storage.SearchTypeMessage}, Limit: 10}
	wantEqual(t, "messages only", searchIDs(t, db, q), []string{m2.EventID, m1.EventID})
	q.Types = []string{storage.SearchTypeName, "m.room.unknown"}
	wantEqual(t, "names only", searchIDs(t, db, q), []string{name.EventID})
	q.Types = searchTypes
	q.Senders = &[]string{bob}
	wantEqual(t, "senders", searchIDs(t, db, q), []string{m2.EventID})
	q.Senders, q.NotSenders = nil, []string{bob}
	wantEqual(t, "not_senders", searchIDs(t, db, q), []string{name.EventID, m1.EventID})
	q.NotSenders = nil
	q.Senders = &[]string{}
	wantEqual(t, "no senders allowed", searchIDs(t, db, q), []string{})
	q.Senders = nil
	for what, empty := range map[string]storage.SearchQuery{
		"no words": {RoomIDs: q.RoomIDs, Types: q.Types, Limit: 10},
		"no rooms": {Words: q.Words, Types: q.Types, Limit: 10},
		"no types": {Words: q.Words, RoomIDs: q.RoomIDs, Limit: 10},
		"limit 0":  {Words: q.Words, RoomIDs: q.RoomIDs, Types: q.Types},
	} {
		wantEqual(t, what, searchIDs(t, db, empty), []string{})
	}
	tooMany := make([]string, storage.MaxSearchWords+1)
	for i := range tooMany {
		tooMany[i] = fmt.Sprint("w", i)
	}
	for what, bad := range map[string]storage.SearchQuery{
		"too many words": {Words: tooMany, RoomIDs: q.RoomIDs, Types: q.Types, Limit: 10},
		"limit too big":  {Words: q.Words, RoomIDs: q.RoomIDs, Types: q.Types, Limit: storage.MaxSearchHits + 1},
		"empty word":     {Words: []string{""}, RoomIDs: q.RoomIDs, Types: q.Types, Limit: 10},
	} {
		if _, err := db.SearchEvents(t.Context(), bad); err == nil {
			t.Errorf("SearchEvents with %s: no error", what)
		}
	}
}

// testSearchOrderAndPages: by rank, the message saying "apples" three
// times comes first; both orders page one hit at a time to the same list.
func testSearchOrderAndPages(t *testing.T, db storage.Database, roomID string, m1, m2, name storage.NewEvent) {
	t.Helper()
	for _, byRank := range []bool{false, true} {
		q := storage.SearchQuery{Words: []string{"apples"}, RoomIDs: []string{roomID}, Types: searchTypes, ByRank: byRank, Limit: 10}
		all, err := db.SearchEvents(t.Context(), q)
		noErr(t, "SearchEvents", err)
		if len(all) != 3 {
			t.Fatalf("byRank %v: %d hits, want 3", byRank, len(all))
		}
		for i := 1; i < len(all); i++ {
			prev, cur := all[i-1], all[i]
			inOrder := prev.Stream > cur.Stream
			if byRank {
				inOrder = prev.Rank > cur.Rank || prev.Rank == cur.Rank && prev.Stream > cur.Stream
			}
			if !inOrder || cur.Rank <= 0 {
				t.Errorf("byRank %v: hit %d %+v after %+v", byRank, i, cur, prev)
			}
		}
		if byRank && all[0].EventID != m2.EventID {
			t.Errorf("by rank, first hit %s, want the thrice-apples message %s", all[0].EventID, m2.EventID)
		}
		q.Limit = 1
		var paged []storage.SearchHit
		for range 5 {
			page, err := db.SearchEvents(t.Context(), q)
			noErr(t, "SearchEvents page", err)
			if len(page) == 0 {
				break
			}
			paged = append(paged, page...)
			q.After = &page[0].SearchPos
		}
		wantEqual(t, fmt.Sprintf("byRank %v: paged one at a time", byRank), paged, all)
	}
}
