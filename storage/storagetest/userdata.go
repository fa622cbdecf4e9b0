package storagetest

import (
	"errors"
	"testing"

	"github.com/warbler-im/warbler/storage"
)

// testAccountData: entries replace per (user, room, type), each change
// moves the entry to a new position, reads are per user and by range, and
// everything survives a reopen.
func testAccountData(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	if pos, err := db.MaxAccountDataPos(ctx); err != nil || pos != 0 {
		t.Fatalf("empty database position %d %v", pos, err)
	}
	set := func(user, room, typ, content string) int64 {
		t.Helper()
		pos, err := db.SetAccountData(ctx, user, room, typ, []byte(content))
		if err != nil {
			t.Fatal(err)
		}
		return pos
	}
	p1 := set("@a:x", "", "m.direct", `{"v":1}`)
	p2 := set("@a:x", "!r:x", "m.tag", `{"tags":{}}`)
	p3 := set("@b:x", "", "m.direct", `{"v":"bob"}`)
	p4 := set("@a:x", "", "m.direct", `{"v":2}`)
	if !(p1 < p2 && p2 < p3 && p3 < p4) {
		t.Fatalf("positions not increasing: %d %d %d %d", p1, p2, p3, p4)
	}
	if got, err := db.AccountData(ctx, "@a:x", "", "m.direct"); err != nil || string(got) != `{"v":2}` {
		t.Errorf("global entry %s %v, want the replacement", got, err)
	}
	if _, err := db.AccountData(ctx, "@a:x", "!r:x", "m.direct"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a room entry does not fall back to the global one: %v", err)
	}
	all, err := db.AccountDataSince(ctx, "@a:x", 0, p4, 100)
	if err != nil || len(all) != 2 || all[0].RoomID != "!r:x" || all[1].StreamPos != p4 {
		t.Fatalf("alice's entries %+v %v: want the tag, then m.direct at its new position", all, err)
	}
	if some, _ := db.AccountDataSince(ctx, "@a:x", p2, p3, 100); len(some) != 0 {
		t.Errorf("range (p2, p3] holds only bob's entry, alice got %+v", some)
	}
	if one, _ := db.AccountDataSince(ctx, "@a:x", 0, p4, 1); len(one) != 1 {
		t.Errorf("limit 1 gave %d entries", len(one))
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openDB(t, open)
	if pos, err := db.MaxAccountDataPos(ctx); err != nil || pos != p4 {
		t.Errorf("position after reopen %d %v, want %d", pos, err, p4)
	}
	if got, err := db.AccountData(ctx, "@b:x", "", "m.direct"); err != nil || string(got) != `{"v":"bob"}` {
		t.Errorf("bob's entry after reopen %s %v", got, err)
	}
}

// testReceipts: a receipt moves only forward per (room, user, type,
// thread), threads and types are separate keys, and reads are by room and
// range.
func testReceipts(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	set := func(r storage.Receipt) int64 {
		t.Helper()
		pos, err := db.SetReceipt(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		return pos
	}
	base := storage.Receipt{RoomID: "!r:x", UserID: "@a:x", Type: "m.read", EventID: "$e5", EventOrder: 5, TS: 100}
	p1 := set(base)
	if p1 <= 0 {
		t.Fatalf("first receipt position %d", p1)
	}
	older := base
	older.EventID, older.EventOrder = "$e3", 3
	if pos := set(older); pos != 0 {
		t.Errorf("a receipt for an older event moved to %d, want kept", pos)
	}
	same := base
	if pos := set(same); pos != 0 {
		t.Errorf("the same receipt again moved to %d, want kept", pos)
	}
	threaded := older
	threaded.ThreadID = "main"
	p2 := set(threaded)
	private := older
	private.Type = "m.read.private"
	p3 := set(private)
	other := base
	other.RoomID = "!s:x"
	p4 := set(other)
	newer := base
	newer.EventID, newer.EventOrder = "$e9", 9
	p5 := set(newer)
	if !(p1 < p2 && p2 < p3 && p3 < p4 && p4 < p5) {
		t.Fatalf("positions %d %d %d %d %d", p1, p2, p3, p4, p5)
	}
	if max, _ := db.MaxReceiptPos(ctx); max != p5 {
		t.Errorf("max position %d, want %d (kept receipts use none)", max, p5)
	}
	got, err := db.ReceiptsSince(ctx, []string{"!r:x"}, 0, p5, 100)
	if err != nil || len(got) != 3 {
		t.Fatalf("room receipts %+v %v, want 3", got, err)
	}
	last := got[2]
	if last.EventID != "$e9" || last.StreamPos != p5 || last.ThreadID != "" || last.TS != 100 {
		t.Errorf("newest receipt %+v", last)
	}
	if got, _ := db.ReceiptsSince(ctx, []string{"!r:x", "!s:x"}, p3, p5, 100); len(got) != 2 {
		t.Errorf("receipts in (p3, p5] of both rooms: %+v", got)
	}
	if got, _ := db.ReceiptsSince(ctx, []string{"!none:x"}, 0, p5, 100); len(got) != 0 {
		t.Errorf("receipts of an unknown room: %+v", got)
	}
}

// testPresence: the last state replaces the one before and survives a
// reopen; unknown users are not found.
func testPresence(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	if _, err := db.GetPresence(ctx, "@a:x"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("unset presence: %v", err)
	}
	first := storage.Presence{UserID: "@a:x", Presence: "online", StatusMsg: "hi", LastActiveTS: 10, CurrentlyActive: true}
	second := storage.Presence{UserID: "@a:x", Presence: "unavailable", LastActiveTS: 20}
	for _, p := range []storage.Presence{first, second} {
		if err := db.SetPresence(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openDB(t, open)
	if got, err := db.GetPresence(ctx, "@a:x"); err != nil || got != second {
		t.Errorf("presence %+v %v, want %+v", got, err, second)
	}
}
