package storagetest

import (
	"testing"

	"github.com/warbler-im/warbler/storage"
)

// testDirectory: publishing is idempotent and listed sorted and bounded;
// forgetting records the membership event it applied to; events are found
// by timestamp in both directions.
func testDirectory(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	for _, id := range []string{"!b:x", "!a:x", "!c:x", "!a:x"} {
		noErr(t, "publish", db.SetRoomPublished(ctx, id, true))
	}
	noErr(t, "unpublish", db.SetRoomPublished(ctx, "!c:x", false))
	noErr(t, "unpublish again", db.SetRoomPublished(ctx, "!c:x", false))
	got, err := db.PublishedRooms(ctx, 10)
	wantStrings(t, "PublishedRooms", got, err, "!a:x", "!b:x")
	got, err = db.PublishedRooms(ctx, 1)
	wantStrings(t, "PublishedRooms limit 1", got, err, "!a:x")
	for id, want := range map[string]bool{"!a:x": true, "!c:x": false, "!none:x": false} {
		if pub, err := db.RoomPublished(ctx, id); err != nil || pub != want {
			t.Errorf("RoomPublished(%s) = %v %v, want %v", id, pub, err, want)
		}
	}

	noErr(t, "alias", db.CreateAlias(ctx, "#old:x", "!old:x", "@creator:x"))
	noErr(t, "alias", db.CreateAlias(ctx, "#other:x", "!other:x", "@creator:x"))
	noErr(t, "MoveAliases", db.MoveAliases(ctx, "!old:x", "!new:x"))
	moved, err := db.RoomAliases(ctx, "!new:x")
	wantStrings(t, "moved aliases", moved, err, "#old:x")
	if room, creator, err := db.AliasRoom(ctx, "#other:x"); err != nil || room != "!other:x" || creator != "@creator:x" {
		t.Errorf("untouched alias: %q %q %v", room, creator, err)
	}

	noErr(t, "forget", db.ForgetRoom(ctx, "@u:x", "!a:x", "$leave1"))
	noErr(t, "forget again", db.ForgetRoom(ctx, "@u:x", "!a:x", "$leave2"))
	noErr(t, "forget b", db.ForgetRoom(ctx, "@u:x", "!b:x", "$leaveb"))
	noErr(t, "other user", db.ForgetRoom(ctx, "@v:x", "!a:x", "$v"))
	forgotten, err := db.ForgottenRooms(ctx, "@u:x", 10)
	wantEqual(t, "ForgottenRooms", show(forgotten), show(map[string]string{"!a:x": "$leave2", "!b:x": "$leaveb"}))
	noErr(t, "ForgottenRooms", err)
	if ev, err := db.RoomForgotten(ctx, "@u:x", "!a:x"); err != nil || ev != "$leave2" {
		t.Errorf("RoomForgotten: %q %v", ev, err)
	}
	if ev, err := db.RoomForgotten(ctx, "@u:x", "!c:x"); err != nil || ev != "" {
		t.Errorf("RoomForgotten of a remembered room: %q %v", ev, err)
	}
	if few, err := db.ForgottenRooms(ctx, "@u:x", 1); err != nil || len(few) != 1 {
		t.Errorf("ForgottenRooms limit 1: %v %v", few, err)
	}
}

// testEventsByTimestamp: the nearest visible timeline events at or after
// (before) a timestamp, in order, rejected ones left out.
func testEventsByTimestamp(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	r := newTestRoom(t, db, "ts", "@alice:example.org") // create at baseTS+1
	r.member("@alice:example.org", "join")              // baseTS+2
	m1, _ := r.message("@alice:example.org", "one")     // baseTS+3
	m2, _ := r.message("@alice:example.org", "two")     // baseTS+4
	fwd, err := db.EventsByTimestamp(ctx, r.id, baseTS+3, true, 5)
	wantStrings(t, "forwards", eventIDsOf(fwd), err, m1.EventID, m2.EventID)
	back, err := db.EventsByTimestamp(ctx, r.id, baseTS+3, false, 2)
	wantStrings(t, "backwards", eventIDsOf(back), err, m1.EventID, "$ts_2")
	none, err := db.EventsByTimestamp(ctx, r.id, baseTS+100, true, 5)
	wantStrings(t, "after the last", eventIDsOf(none), err)
	unknown, err := db.EventsByTimestamp(ctx, "!unknown:example.org", baseTS, true, 5)
	wantStrings(t, "unknown room", eventIDsOf(unknown), err)
}

// testSearchProfiles: matches on user ID or display name, ignoring case,
// with LIKE wildcards taken literally; deactivated users and guests are
// left out; sorted and bounded.
func testSearchProfiles(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	accounts := []struct {
		id, name string
		guest    bool
	}{
		{"@alice:x", "Alice Liddell", false}, {"@bob:x", "Bobby_Tables", false}, {"@carol:x", "100% Carol", false},
		{"@guest:x", "Alice the guest", true}, {"@gone:x", "Alice gone", false},
	}
	for _, a := range accounts {
		u := storage.User{UserID: a.id, IsGuest: a.guest, CreatedTS: baseTS}
		noErr(t, "CreateAccount", db.CreateAccount(ctx, storage.NewAccount{User: u, Profile: storage.Profile{DisplayName: a.name, AvatarURL: "mxc://x/" + a.name[:1]}}))
	}
	noErr(t, "deactivate", db.DeactivateUser(ctx, "@gone:x"))
	tests := []struct {
		term  string
		limit int
		want  []string
	}{
		{"alice", 10, []string{"@alice:x"}},
		{"LIDDELL", 10, []string{"@alice:x"}},
		{"o", 10, []string{"@bob:x", "@carol:x"}},
		{"o", 1, []string{"@bob:x"}},
		{"_t", 10, []string{"@bob:x"}},
		{"%", 10, []string{"@carol:x"}},
		{":x", 10, []string{"@alice:x", "@bob:x", "@carol:x"}},
		{"nobody", 10, nil},
	}
	for _, tc := range tests {
		got, err := db.SearchProfiles(ctx, tc.term, tc.limit)
		var ids []string
		for _, p := range got {
			ids = append(ids, p.UserID)
		}
		wantStrings(t, "SearchProfiles "+tc.term, ids, err, tc.want...)
	}
	if got, _ := db.SearchProfiles(ctx, "alice", 1); len(got) != 1 || got[0].DisplayName != "Alice Liddell" || got[0].AvatarURL != "mxc://x/A" {
		t.Errorf("profile fields: %+v", got)
	}
}
