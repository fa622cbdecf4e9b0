package storagetest

import (
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/warbler-im/warbler/storage"
)

var pushTests = []struct {
	name string
	run  func(t *testing.T, open Opener)
}{
	{"PushUnread", testPushUnread},
	{"PushList", testPushList},
	{"PushRecipientsExact", testPushRecipientsExact},
	{"WritePush", testWritePush},
	{"WritePushRefuses", testWritePushRefuses},
	{"WritePushManyRows", testWritePushManyRows},
	{"PushBounds", testPushBounds},
	{"Pushers", testPushers},
}

// note is a notification of event pos in room, thread, to users (a "!"
// after a user ID makes it a highlight for them).
func note(room, thread string, pos int64, users ...string) storage.PushWrite {
	n := &storage.PushNotification{RoomID: room, EventID: fmt.Sprintf("$e%d", pos), StreamPos: pos, ThreadID: thread, TS: 1000 + pos}
	for _, u := range users {
		user, hl := strings.CutSuffix(u, "!")
		actions := `["notify"]`
		if hl {
			actions = `["notify",{"set_tweak":"highlight"}]`
		}
		n.Recipients = append(n.Recipients, storage.PushRecipient{UserID: user, Highlight: hl, Actions: []byte(actions)})
	}
	return storage.PushWrite{Notification: n}
}

func mark(user, room, thread string, upTo int64) storage.PushWrite {
	return storage.PushWrite{Mark: &storage.PushMark{UserID: user, RoomID: room, ThreadID: thread, UpTo: upTo}}
}

// testPushUnread: unread actions per room and thread, marks per thread
// and for all threads, repeats ignored, marks that never go down, and the
// marks read back.
func testPushUnread(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	mustOK(t, db.WritePush(ctx, []storage.PushWrite{
		note("!r:x", "main", 1, "@a:x", "@b:x"),
		note("!r:x", "main", 2, "@b:x", "@a:x!"),
		note("!r:x", "$root", 3, "@a:x"),
		note("!s:x", "main", 4, "@a:x"),
		note("!t:x", "main", 5, "@a:x"), // a room not asked about
	}))
	mustOK(t, db.WritePush(ctx, []storage.PushWrite{note("!r:x", "main", 1, "@a:x!")})) // a repeat
	rooms := []string{"!r:x", "!s:x"}
	wantUnread(t, db, "@a:x", rooms, map[string][2]int{"!r:x main": {2, 1}, "!r:x $root": {1, 0}, "!s:x main": {1, 0}})

	mustOK(t, db.WritePush(ctx, []storage.PushWrite{mark("@a:x", "!r:x", "$root", 3)}))
	wantUnread(t, db, "@a:x", rooms, map[string][2]int{"!r:x main": {2, 1}, "!s:x main": {1, 0}})
	mustOK(t, db.WritePush(ctx, []storage.PushWrite{mark("@a:x", "!r:x", "", 1)}))
	wantUnread(t, db, "@a:x", rooms, map[string][2]int{"!r:x main": {1, 1}, "!s:x main": {1, 0}})
	wantUnread(t, db, "@b:x", rooms, map[string][2]int{"!r:x main": {2, 0}})
	// A lower mark does not undo a higher one.
	mustOK(t, db.WritePush(ctx, []storage.PushWrite{mark("@a:x", "!r:x", "$root", 1), mark("@a:x", "!r:x", "", 0)}))
	wantUnread(t, db, "@a:x", rooms, map[string][2]int{"!r:x main": {1, 1}, "!s:x main": {1, 0}})

	got, err := db.UnreadPushActions(ctx, "@a:x", rooms, 100)
	mustOK(t, err)
	marks := map[string]int64{}
	for _, m := range got.Marks {
		if m.UserID != "@a:x" {
			t.Errorf("mark of another user: %+v", m)
		}
		marks[m.RoomID+" "+m.ThreadID] = m.UpTo
	}
	if want := map[string]int64{"!r:x ": 1, "!r:x $root": 3}; !maps.Equal(marks, want) {
		t.Errorf("marks %v, want %v", marks, want)
	}
	if a := got.Actions[0]; a.StreamPos != 2 || a.EventID != "$e2" || a.TS != 1002 || !a.Highlight ||
		string(a.Actions) != `["notify",{"set_tweak":"highlight"}]` || a.UserID != "@a:x" || a.Read {
		t.Errorf("newest unread action of !r:x %+v", a)
	}

	// An all-thread mark above a thread's makes it redundant: the thread
	// mark is dropped, and the thread reads as the all-thread mark says.
	mustOK(t, db.WritePush(ctx, []storage.PushWrite{mark("@a:x", "!r:x", "", 3)}))
	got, err = db.UnreadPushActions(ctx, "@a:x", rooms[:1], 100)
	mustOK(t, err)
	if len(got.Marks) != 1 || got.Marks[0].ThreadID != "" || got.Marks[0].UpTo != 3 || len(got.Actions) != 0 {
		t.Errorf("after an all-thread mark at 3: %+v", got)
	}
}

// testPushList: the notification list newest first over several rooms,
// with read flags, highlights only, and paging with next.
func testPushList(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	mustOK(t, db.WritePush(ctx, []storage.PushWrite{
		note("!r:x", "main", 1, "@a:x"),
		note("!r:x", "main", 2, "@a:x!"),
		note("!s:x", "$root", 3, "@a:x"),
		note("!s:x", "main", 4, "@b:x"),
		note("!r:x", "main", 5, "@a:x"),
		mark("@a:x", "!r:x", "", 1),
		mark("@a:x", "!s:x", "$root", 3),
	}))
	rooms := []string{"!s:x", "!r:x"}
	list, next, err := db.PushActions(ctx, "@a:x", rooms, 0, 10, false)
	mustOK(t, err)
	if got := listed(list); got != "5 3r 2 1r" || next != 0 {
		t.Fatalf("list %q next %d", got, next)
	}
	if a := list[1]; a.RoomID != "!s:x" || a.EventID != "$e3" || a.ThreadID != "$root" || a.TS != 1003 || string(a.Actions) != `["notify"]` {
		t.Errorf("row %+v", a)
	}
	page, next, err := db.PushActions(ctx, "@a:x", rooms, 0, 2, false)
	mustOK(t, err)
	if got := listed(page); got != "5 3r" || next != 3 {
		t.Fatalf("first page %q next %d", got, next)
	}
	page, next, err = db.PushActions(ctx, "@a:x", rooms, next, 2, false)
	mustOK(t, err)
	if got := listed(page); got != "2 1r" || next != 1 {
		t.Fatalf("second page %q next %d", got, next)
	}
	page, next, err = db.PushActions(ctx, "@a:x", rooms, next, 2, false)
	mustOK(t, err)
	if len(page) != 0 || next != 0 {
		t.Fatalf("third page %q next %d", listed(page), next)
	}
	hl, _, err := db.PushActions(ctx, "@a:x", rooms, 0, 10, true)
	mustOK(t, err)
	if got := listed(hl); got != "2" {
		t.Errorf("highlights %q", got)
	}
	if only, _, _ := db.PushActions(ctx, "@a:x", []string{"!s:x"}, 0, 10, false); listed(only) != "3r" {
		t.Errorf("only the rooms asked about: %q", listed(only))
	}
	if none, next, _ := db.PushActions(ctx, "@a:x", nil, 0, 10, false); len(none) != 0 || next != 0 {
		t.Errorf("no rooms: %+v %d", none, next)
	}
}

// listed is a list's stream positions, "r" marking read ones.
func listed(list []storage.PushAction) string {
	var out []string
	for _, a := range list {
		s := fmt.Sprint(a.StreamPos)
		if a.Read {
			s += "r"
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

// testPushRecipientsExact: a user is found on any line of a notification
// and only by their whole ID, and the actions come back compacted.
func testPushRecipientsExact(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	spaced := storage.PushRecipient{UserID: "@c:x", Actions: []byte("[\n\t\"notify\" ,\n {\"set_tweak\": \"sound\", \"value\": \"a b\"}\n]")}
	n := note("!r:x", "main", 1, "@a:x.y", "@xa:x", "@b:x")
	n.Notification.Recipients = append(n.Notification.Recipients, spaced)
	mustOK(t, db.WritePush(ctx, []storage.PushWrite{n, note("!r:x", "main", 2, "@a:x", "@a:x.y!")}))
	rooms := []string{"!r:x"}
	for user, want := range map[string]string{"@a:x": "2", "@a:x.y": "2 1", "@xa:x": "1", "@b:x": "1", "@c:x": "1", "@x:x": "", "a:x": ""} {
		list, _, err := db.PushActions(ctx, user, rooms, 0, 10, false)
		mustOK(t, err)
		if got := listed(list); got != want {
			t.Errorf("%s: %q, want %q", user, got, want)
		}
	}
	list, _, err := db.PushActions(ctx, "@c:x", rooms, 0, 10, false)
	mustOK(t, err)
	if got := string(list[0].Actions); got != `["notify",{"set_tweak":"sound","value":"a b"}]` {
		t.Errorf("actions %s", got)
	}
	wantUnread(t, db, "@a:x.y", rooms, map[string][2]int{"!r:x main": {2, 1}})

	// Each user gets their own actions back, whether most of the
	// recipients share them or not.
	mustOK(t, db.WritePush(ctx, []storage.PushWrite{
		note("!s:x", "main", 3, "@a:x", "@b:x!", "@c:x", "@d:x"),
		note("!s:x", "main", 4, "@a:x!", "@b:x!", "@c:x!", "@d:x"),
	}))
	for user, want := range map[string]string{"@a:x": "3 notify, 4 highlight", "@b:x": "3 highlight, 4 highlight", "@d:x": "3 notify, 4 notify"} {
		list, _, err := db.PushActions(ctx, user, []string{"!s:x"}, 0, 10, false)
		mustOK(t, err)
		var got []string
		for i := len(list) - 1; i >= 0; i-- {
			kind := "notify"
			if strings.Contains(string(list[i].Actions), "highlight") {
				kind = "highlight"
			}
			got = append(got, fmt.Sprint(list[i].StreamPos, " ", kind))
		}
		if strings.Join(got, ", ") != want {
			t.Errorf("%s: actions %q, want %q", user, strings.Join(got, ", "), want)
		}
	}
}

// testWritePush: notifications and marks apply in the order given; a
// notification written after a mark above it is read at once (marks, not
// rows, say what is read).
func testWritePush(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	rooms := []string{"!r:x"}
	wantUnread(t, db, "@a:x", rooms, map[string][2]int{})
	mustOK(t, db.WritePush(ctx, nil))
	mustOK(t, db.WritePush(ctx, []storage.PushWrite{
		note("!r:x", "main", 1, "@a:x"), note("!r:x", "$t", 2, "@a:x"), mark("@a:x", "!r:x", "", 2),
		note("!r:x", "main", 3, "@a:x"), note("!r:x", "main", 1, "@a:x"), note("!r:x", "$t", 4, "@a:x"),
		mark("@a:x", "!r:x", "$t", 4), note("!r:x", "main", 5, "@a:x"),
		mark("@a:x", "!r:x", "", 10), note("!r:x", "main", 7, "@a:x"), note("!r:x", "main", 11, "@a:x"),
	}))
	wantUnread(t, db, "@a:x", rooms, map[string][2]int{"!r:x main": {1, 0}})
	list, _, err := db.PushActions(ctx, "@a:x", rooms, 0, 10, false)
	mustOK(t, err)
	if got := listed(list); got != "11 7r 5r 4r 3r 2r 1r" {
		t.Errorf("list %q", got)
	}
}

// testWritePushRefuses: a write holding neither or both of a
// notification and a mark, a notification without recipients, a user ID
// that would break the recipient lines, or actions that are not JSON are
// refused, and then nothing of the call is written.
func testWritePushRefuses(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	good := note("!r:x", "main", 1, "@a:x")
	withRecipient := func(r storage.PushRecipient) storage.PushWrite {
		w := note("!r:x", "main", 2)
		w.Notification.Recipients = []storage.PushRecipient{r}
		return w
	}
	bad := map[string]storage.PushWrite{
		"empty":         {},
		"both":          {Notification: good.Notification, Mark: mark("@a:x", "!r:x", "", 1).Mark},
		"no recipients": note("!r:x", "main", 2),
		"tab in user":   withRecipient(storage.PushRecipient{UserID: "@a\t:x", Actions: []byte(`[]`)}),
		"newline":       withRecipient(storage.PushRecipient{UserID: "@a\n:x", Actions: []byte(`[]`)}),
		"no user":       withRecipient(storage.PushRecipient{Actions: []byte(`[]`)}),
		"bad actions":   withRecipient(storage.PushRecipient{UserID: "@a:x", Actions: []byte("[\"no\tend")}),
	}
	for name, w := range bad {
		var refused *storage.BadPushWriteError
		if err := db.WritePush(ctx, []storage.PushWrite{good, w}); !errors.As(err, &refused) || refused.Index != 1 {
			t.Errorf("%s: %v, want a BadPushWriteError for write 1", name, err)
		}
	}
	wantUnread(t, db, "@a:x", []string{"!r:x"}, map[string][2]int{})
}

// testWritePushManyRows: a run longer than one multi-row statement holds
// is written whole.
func testWritePushManyRows(t *testing.T, open Opener) {
	db := openDB(t, open)
	const n = 1000
	writes := make([]storage.PushWrite, n)
	for i := range writes {
		user := "@a:x"
		if i%10 == 0 {
			user += "!"
		}
		writes[i] = note("!r:x", "main", int64(i+1), "@b:x", user)
	}
	mustOK(t, db.WritePush(t.Context(), writes))
	wantUnread(t, db, "@a:x", []string{"!r:x"}, map[string][2]int{"!r:x main": {n, n / 10}})
}

// testPushBounds: the reads look at a bounded number of notifications: a
// room's unread actions among its newest scanPerRoom notifications, and
// a list page that stops early with a next to continue from when many
// events did not notify the user. Too many rooms or writes are refused.
func testPushBounds(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	// !r:x: 300 events for @b:x only, and one for @a:x below them.
	// !s:x: one event for @a:x, older still.
	writes := []storage.PushWrite{note("!s:x", "main", 1, "@a:x"), note("!r:x", "main", 2, "@a:x")}
	for pos := int64(3); pos <= 302; pos++ {
		writes = append(writes, note("!r:x", "main", pos, "@b:x"))
	}
	mustOK(t, db.WritePush(ctx, writes))
	got, err := db.UnreadPushActions(ctx, "@a:x", []string{"!r:x"}, 300)
	mustOK(t, err)
	if len(got.Actions) != 0 {
		t.Errorf("an action below the newest 300 notifications was read: %+v", got.Actions)
	}
	if got, _ = db.UnreadPushActions(ctx, "@a:x", []string{"!r:x"}, 301); len(got.Actions) != 1 {
		t.Errorf("within 301 notifications: %+v", got.Actions)
	}
	// The list reads a bounded share of each room per call (the more
	// rooms, the smaller); following next still reaches everything, in
	// order.
	rooms := []string{"!r:x", "!s:x"}
	for i := range 400 {
		rooms = append(rooms, fmt.Sprintf("!quiet%d:x", i))
	}
	var all []storage.PushAction
	var before int64
	calls := 0
	for ; ; calls++ {
		if calls > 300 {
			t.Fatal("paging does not end")
		}
		page, next, err := db.PushActions(ctx, "@a:x", rooms, before, 10, false)
		mustOK(t, err)
		all = append(all, page...)
		if next == 0 {
			break
		}
		if next >= before && before != 0 {
			t.Fatalf("next %d does not move below %d", next, before)
		}
		before = next
	}
	if got := listed(all); got != "2 1" {
		t.Errorf("paged list %q", got)
	}
	if calls < 2 {
		t.Error("one call read 300 notifications of a room among 400 others")
	}

	// More thread marks than a read takes (the SQL stores keep 1,000)
	// still leave the mark for every thread in force.
	marks := []storage.PushWrite{note("!m:x", "main", 400, "@a:x"), mark("@a:x", "!m:x", "", 401)}
	for i := range 1000 {
		marks = append(marks, mark("@a:x", "!m:x", fmt.Sprintf("$t%d", i), int64(500+i)))
	}
	mustOK(t, db.WritePush(ctx, marks))
	wantUnread(t, db, "@a:x", []string{"!m:x"}, map[string][2]int{})

	many := make([]string, storage.MaxPushRooms+1)
	for i := range many {
		many[i] = fmt.Sprintf("!r%d:x", i)
	}
	if _, err := db.UnreadPushActions(ctx, "@a:x", many, 10); err == nil {
		t.Error("UnreadPushActions took too many rooms")
	}
	if _, _, err := db.PushActions(ctx, "@a:x", many, 0, 10, false); err == nil {
		t.Error("PushActions took too many rooms")
	}
	if err := db.WritePush(ctx, make([]storage.PushWrite, 10001)); err == nil {
		t.Error("WritePush took too many writes")
	}
}

// wantUnread checks the user's unread counts in rooms, keyed "room
// thread", from what UnreadPushActions reads.
func wantUnread(t *testing.T, db storage.Database, user string, rooms []string, want map[string][2]int) {
	t.Helper()
	got, err := db.UnreadPushActions(t.Context(), user, rooms, 10000)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string][2]int{}
	for i, a := range got.Actions {
		if a.UserID != user || a.Read {
			t.Errorf("%s: unread action %+v", user, a)
		}
		if i > 0 && a.RoomID == got.Actions[i-1].RoomID && a.StreamPos >= got.Actions[i-1].StreamPos {
			t.Errorf("%s: actions of %s not newest first", user, a.RoomID)
		}
		c := counts[a.RoomID+" "+a.ThreadID]
		c[0]++
		if a.Highlight {
			c[1]++
		}
		counts[a.RoomID+" "+a.ThreadID] = c
	}
	if !maps.Equal(counts, want) {
		t.Errorf("%s counts %v, want %v", user, counts, want)
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
