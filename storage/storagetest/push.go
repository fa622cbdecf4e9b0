package storagetest

import (
	"fmt"
	"testing"

	"github.com/warbler-im/warbler/storage"
)

var pushTests = []struct {
	name string
	run  func(t *testing.T, open Opener)
}{
	{"PushActions", testPushActions},
	{"WritePush", testWritePush},
	{"WritePushManyRows", testWritePushManyRows},
	{"Pushers", testPushers},
}

// testPushActions: unread counts per room and thread, marking read per
// thread and for all threads, duplicates ignored, and the newest-first
// notification list with highlights-only and paging.
func testPushActions(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	act := func(user, room, thread string, pos int64, highlight bool) storage.PushAction {
		return storage.PushAction{UserID: user, RoomID: room, EventID: "$e" + string(rune('a'+pos)), StreamPos: pos,
			ThreadID: thread, TS: 1000 + pos, Highlight: highlight, Actions: []byte(`["notify"]`)}
	}
	mustOK(t, db.AddPushActions(ctx, []storage.PushAction{
		act("@a:x", "!r:x", "main", 1, false),
		act("@a:x", "!r:x", "main", 2, true),
		act("@a:x", "!r:x", "$root", 3, false),
		act("@a:x", "!s:x", "main", 4, false),
		act("@b:x", "!r:x", "main", 2, false),
	}))
	mustOK(t, db.AddPushActions(ctx, []storage.PushAction{act("@a:x", "!r:x", "main", 1, true)})) // a repeat
	wantUnread(t, db, "@a:x", map[string][2]int{"!r:x main": {2, 1}, "!r:x $root": {1, 0}, "!s:x main": {1, 0}})

	mustOK(t, db.MarkPushActionsRead(ctx, "@a:x", "!r:x", "$root", 3))
	wantUnread(t, db, "@a:x", map[string][2]int{"!r:x main": {2, 1}, "!s:x main": {1, 0}})
	mustOK(t, db.MarkPushActionsRead(ctx, "@a:x", "!r:x", "", 1))
	wantUnread(t, db, "@a:x", map[string][2]int{"!r:x main": {1, 1}, "!s:x main": {1, 0}})
	wantUnread(t, db, "@b:x", map[string][2]int{"!r:x main": {1, 0}})

	list, err := db.PushActions(ctx, "@a:x", 0, 10, false)
	if err != nil || len(list) != 4 || list[0].StreamPos != 4 || list[3].StreamPos != 1 || !list[3].Read || list[0].Read {
		t.Fatalf("list %+v %v", list, err)
	}
	if string(list[0].Actions) != `["notify"]` || list[0].TS != 1004 || list[0].EventID != "$ee" {
		t.Errorf("row %+v", list[0])
	}
	if page, _ := db.PushActions(ctx, "@a:x", 3, 1, false); len(page) != 1 || page[0].StreamPos != 2 {
		t.Errorf("page below 3: %+v", page)
	}
	if hl, _ := db.PushActions(ctx, "@a:x", 0, 10, true); len(hl) != 1 || hl[0].StreamPos != 2 {
		t.Errorf("highlights: %+v", hl)
	}
}

// testWritePush: actions and marks apply in the order given, so an
// action after a mark stays unread and one before it is marked; a write
// holding neither or both is refused and nothing is written.
func testWritePush(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	act := func(pos int64, thread string) storage.PushWrite {
		return storage.PushWrite{Action: &storage.PushAction{UserID: "@a:x", RoomID: "!r:x", EventID: fmt.Sprintf("$e%d", pos),
			StreamPos: pos, ThreadID: thread, TS: pos, Actions: []byte(`["notify"]`)}}
	}
	mark := func(upTo int64, thread string) storage.PushWrite {
		return storage.PushWrite{Mark: &storage.PushMark{UserID: "@a:x", RoomID: "!r:x", ThreadID: thread, UpTo: upTo}}
	}
	bad := [][]storage.PushWrite{
		{act(1, "main"), {}},
		{{Action: act(1, "main").Action, Mark: mark(1, "").Mark}},
	}
	for i, writes := range bad {
		if err := db.WritePush(ctx, writes); err == nil {
			t.Errorf("bad writes %d accepted", i)
		}
	}
	wantUnread(t, db, "@a:x", map[string][2]int{})
	mustOK(t, db.WritePush(ctx, nil))
	mustOK(t, db.WritePush(ctx, []storage.PushWrite{
		act(1, "main"), act(2, "$t"), mark(2, ""), act(3, "main"), act(1, "main"), act(4, "$t"), mark(4, "$t"), act(5, "main"),
	}))
	wantUnread(t, db, "@a:x", map[string][2]int{"!r:x main": {2, 0}})
	list, err := db.PushActions(ctx, "@a:x", 0, 10, false)
	if err != nil || len(list) != 5 {
		t.Fatalf("list %+v %v", list, err)
	}
}

// testWritePushManyRows: a run longer than one multi-row statement holds
// is written whole.
func testWritePushManyRows(t *testing.T, open Opener) {
	db := openDB(t, open)
	const n = 1000
	writes := make([]storage.PushWrite, n)
	for i := range writes {
		writes[i].Action = &storage.PushAction{UserID: "@a:x", RoomID: "!r:x", EventID: fmt.Sprintf("$e%d", i),
			StreamPos: int64(i + 1), ThreadID: "main", TS: 1, Highlight: i%10 == 0, Actions: []byte(`[]`)}
	}
	mustOK(t, db.WritePush(t.Context(), writes))
	wantUnread(t, db, "@a:x", map[string][2]int{"!r:x main": {n, n / 10}})
}

func wantUnread(t *testing.T, db storage.Database, user string, want map[string][2]int) {
	t.Helper()
	counts, err := db.UnreadCounts(t.Context(), user)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][2]int{}
	for _, c := range counts {
		got[c.RoomID+" "+c.ThreadID] = [2]int{c.Notify, c.Highlight}
	}
	if len(got) != len(want) {
		t.Fatalf("%s counts %v, want %v", user, got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s counts %v, want %v", user, got, want)
		}
	}
}

// testPushers: set, replace, list, delete, and the spec's default of one
// user per (app_id, pushkey) unless append is set.
func testPushers(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	p := storage.Pusher{UserID: "@a:x", AppID: "im.app", PushKey: "key1", Kind: "http", AppDisplayName: "App",
		DeviceDisplayName: "Phone", Lang: "en", Data: []byte(`{"url":"https://push.example/_matrix/push/v1/notify"}`), CreatedTS: 5}
	mustOK(t, db.SetPusher(ctx, p, false))
	p.DeviceDisplayName = "New phone"
	mustOK(t, db.SetPusher(ctx, p, false))
	got, err := db.Pushers(ctx, "@a:x")
	if err != nil || len(got) != 1 || got[0].DeviceDisplayName != "New phone" || string(got[0].Data) != string(p.Data) {
		t.Fatalf("pushers %+v %v", got, err)
	}
	bobs := p
	bobs.UserID = "@b:x"
	mustOK(t, db.SetPusher(ctx, bobs, true))
	if got, _ := db.Pushers(ctx, "@a:x"); len(got) != 1 {
		t.Error("append must keep the other user's pusher")
	}
	mustOK(t, db.SetPusher(ctx, bobs, false))
	if got, _ := db.Pushers(ctx, "@a:x"); len(got) != 0 {
		t.Error("without append the pushkey moves to the new user")
	}
	mustOK(t, db.DeletePusher(ctx, "@b:x", "im.app", "key1"))
	if got, _ := db.Pushers(ctx, "@b:x"); len(got) != 0 {
		t.Errorf("after delete: %+v", got)
	}
	mustOK(t, db.DeletePusher(ctx, "@b:x", "im.app", "key1")) // deleting nothing is fine
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
