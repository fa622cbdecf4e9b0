package storagetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/warbler-im/warbler/storage"
)

// The small per-user reads every /sync makes (a user's rooms by
// membership, account data, remote invites, a device's one-time key
// counts and unused fallback keys) may be served from memory. Each test
// reads twice (so a cache would hold the value), changes the data through
// every write path there is for it, and reads again: a read must never
// return what was true before a write that has returned. Values handed
// out must be the caller's own to change.

var userCacheTests = []struct {
	name string
	run  func(t *testing.T, open Opener)
}{
	{"CachedRoomsByMembership", testCachedRoomsByMembership},
	{"CachedAccountData", testCachedAccountData},
	{"CachedRemoteInvites", testCachedRemoteInvites},
	{"CachedOneTimeKeyCounts", testCachedOneTimeKeyCounts},
	{"CachedFallbackKeyTypes", testCachedFallbackKeyTypes},
	{"CachedReadsRaceWrites", testCachedReadsRaceWrites},
	{"CachedAccessTokens", testCachedAccessTokens},
}

type roomsByMembership = map[string][]string

func testCachedRoomsByMembership(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	bob, carol, dave := userID("bob", "b.example"), userID("carol", "c.example"), userID("dave", "d.example")
	want := func(what, user string, want roomsByMembership) {
		t.Helper()
		for i := range 2 {
			got, err := db.RoomsByMembership(ctx, user)
			noErr(t, what, err)
			wantEqual(t, fmt.Sprintf("%s: RoomsByMembership(%s), read %d", what, user, i+1), got, want)
		}
	}
	r := newTestRoom(t, db, "cm", alice)
	// The room's joined servers change where memberships do, and are
	// read twice each time too (a store may cache them).
	servers := func(what string, want ...string) {
		t.Helper()
		for i := range 2 {
			got, err := db.JoinedServers(ctx, r.id)
			wantStrings(t, fmt.Sprintf("%s: JoinedServers, read %d", what, i+1), got, err, want...)
			if len(got) > 0 {
				got[0] = "changed.example" // a caller's copy
			}
		}
	}
	want("no room yet", alice, roomsByMembership{})
	r.member(alice, "join")
	want("alice joined", alice, roomsByMembership{"join": {r.id}})
	servers("alice joined", "example.org")
	want("bob in no room", bob, roomsByMembership{})
	r.member(bob, "invite")
	want("bob invited", bob, roomsByMembership{"invite": {r.id}})
	r.member(bob, "join")
	want("bob joined", bob, roomsByMembership{"join": {r.id}})
	servers("bob joined", "b.example", "example.org")

	got, err := db.RoomsByMembership(ctx, bob)
	noErr(t, "RoomsByMembership", err)
	got["join"][0] = "!changed:example.org"
	got["leave"] = []string{"!added:example.org"}
	want("after a caller changed its copy", bob, roomsByMembership{"join": {r.id}})

	// Several member events in one batch, in a second room.
	r2 := newTestRoom(t, db, "cm2", alice)
	r2.member(alice, "join")
	e1 := r2.event("m.room.member", ptr(bob), bob, `{"membership":"join"}`)
	r2.depth++
	r2.extrems = []string{e1.EventID}
	e2 := r2.event("m.room.member", ptr(carol), carol, `{"membership":"knock"}`)
	e1Entry := storage.StateEntry{Type: "m.room.member", StateKey: bob, EventID: e1.EventID}
	e2Entry := storage.StateEntry{Type: "m.room.member", StateKey: carol, EventID: e2.EventID}
	e2.StateBefore = storage.StateRef{Base: r2.snapshot, Changes: []storage.StateEntry{e1Entry}}
	want("carol before the batch", carol, roomsByMembership{})
	r2.persist([]storage.NewEvent{e1, e2}, storage.RoomUpdate{
		SetCurrentState:    &storage.StateRef{Base: r2.snapshot, Changes: []storage.StateEntry{e1Entry, e2Entry}},
		ForwardExtremities: []string{e2.EventID},
	})
	want("batch", bob, roomsByMembership{"join": {r2.id, r.id}}) // byte-wise: '2' < ':'
	want("batch", carol, roomsByMembership{"knock": {r2.id}})
	want("alice in both", alice, roomsByMembership{"join": {r2.id, r.id}})

	// A leave, then state resets (state resolution outcomes): back to
	// the state before the leave, then one that drops bob's slot.
	beforeLeave := r.snapshot
	r.member(bob, "leave")
	want("bob left", bob, roomsByMembership{"join": {r2.id}, "leave": {r.id}})
	servers("bob left", "example.org")
	r.persist(nil, storage.RoomUpdate{SetCurrentState: &storage.StateRef{Base: beforeLeave}})
	want("reset to before the leave", bob, roomsByMembership{"join": {r2.id, r.id}})
	servers("reset to before the leave", "b.example", "example.org")
	r.persist(nil, storage.RoomUpdate{SetCurrentState: &storage.StateRef{Base: r.snapshot,
		Changes: []storage.StateEntry{{Type: "m.room.member", StateKey: bob}}}})
	want("reset dropping bob", bob, roomsByMembership{"join": {r2.id}})
	servers("reset dropping bob", "example.org")

	// A member event stored as an outlier (the room state of a federated
	// join) changes nothing until the current state names it.
	out := r.event("m.room.member", ptr(carol), carol, `{"membership":"ban"}`)
	out.Outlier = true
	r.persist([]storage.NewEvent{out}, storage.RoomUpdate{})
	want("outlier stored", carol, roomsByMembership{"knock": {r2.id}})
	r.persist(nil, storage.RoomUpdate{SetCurrentState: &storage.StateRef{Base: r.snapshot,
		Changes: []storage.StateEntry{{Type: "m.room.member", StateKey: carol, EventID: out.EventID}}}})
	want("outlier in the current state", carol, roomsByMembership{"ban": {r.id}, "knock": {r2.id}})

	// An outlier member event that joins the timeline (de-outliered).
	inv := r.event("m.room.member", ptr(dave), alice, `{"membership":"invite"}`)
	inv.Outlier = true
	r.persist([]storage.NewEvent{inv}, storage.RoomUpdate{})
	want("invite stored as an outlier", dave, roomsByMembership{})
	inv.Outlier = false
	inv.StateBefore = storage.StateRef{Base: r.snapshot}
	r.persist([]storage.NewEvent{inv}, storage.RoomUpdate{SetCurrentState: &storage.StateRef{Base: r.snapshot,
		Changes: []storage.StateEntry{{Type: "m.room.member", StateKey: dave, EventID: inv.EventID}}}})
	want("invite de-outliered", dave, roomsByMembership{"invite": {r.id}})
}

func testCachedAccountData(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	const ignored = "m.ignored_user_list"
	want := func(what, room, typ, content string) { // content "": none
		t.Helper()
		for i := range 2 {
			got, err := db.AccountData(ctx, alice, room, typ)
			switch {
			case content == "":
				wantErr(t, fmt.Sprintf("%s: AccountData(%q, %s), read %d", what, room, typ, i+1), err, storage.ErrNotFound)
			case err != nil || string(got) != content:
				t.Errorf("%s: AccountData(%q, %s), read %d = %s, %v; want %s", what, room, typ, i+1, got, err, content)
			}
		}
	}
	set := func(room, typ, content string) {
		t.Helper()
		if _, err := db.SetAccountData(ctx, alice, room, typ, []byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	want("none yet", "", ignored, "")
	set("", ignored, `{"ignored_users":{"@x:y":{}}}`)
	want("first set", "", ignored, `{"ignored_users":{"@x:y":{}}}`)
	set("", ignored, `{"ignored_users":{}}`)
	want("replaced", "", ignored, `{"ignored_users":{}}`)
	want("room entry none yet", "!r:x", "m.tag", "")
	set("!r:x", "m.tag", `{"tags":{"u.a":{}}}`)
	want("room entry set", "!r:x", "m.tag", `{"tags":{"u.a":{}}}`)
	want("global entry untouched by the room's", "", ignored, `{"ignored_users":{}}`)
	if _, err := db.AccountData(ctx, bob, "", ignored); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("another user's entry: %v, want ErrNotFound", err)
	}

	got, err := db.AccountData(ctx, alice, "", ignored)
	noErr(t, "AccountData", err)
	got[0] = 'X'
	want("after a caller changed its copy", "", ignored, `{"ignored_users":{}}`)
}

func testCachedRemoteInvites(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	const user = "@bob:x"
	// Each invite shows as "room membership event".
	want := func(what string, since int64, limit int, invites ...string) {
		t.Helper()
		for i := range 2 {
			list, err := db.RemoteInvitesForUser(ctx, user, since, limit)
			noErr(t, what, err)
			var got []string
			for _, inv := range list {
				got = append(got, inv.RoomID+" "+inv.Membership+" "+string(inv.Event))
			}
			if !slices.Equal(got, invites) {
				t.Errorf("%s: RemoteInvitesForUser(since %d, limit %d), read %d = %q, want %q", what, since, limit, i+1, got, invites)
			}
		}
	}
	add := func(room, event string) int64 {
		t.Helper()
		pos, err := db.AddRemoteInvite(ctx, storage.RemoteInvite{RoomID: room, UserID: user, EventID: "$" + event,
			RoomVersion: "12", Sender: "@alice:remote", Event: []byte(event), InviteState: []byte(`[]`)})
		if err != nil {
			t.Fatal(err)
		}
		return pos
	}
	want("none yet", 0, 10)
	add("!r1:remote", "e1")
	want("first invite", 0, 10, "!r1:remote invite e1")
	add("!r1:remote", "e2")
	want("replaced", 0, 10, "!r1:remote invite e2")
	add("!r2:remote", "e3")
	want("second invite", 0, 10, "!r1:remote invite e2", "!r2:remote invite e3")
	want("limit 1", 0, 1, "!r1:remote invite e2")

	list, err := db.RemoteInvitesForUser(ctx, user, 0, 10)
	noErr(t, "RemoteInvitesForUser", err)
	list[0].Event[0] = 'X'
	list[0].InviteState[0] = 'X'
	want("after a caller changed its copy", 0, 10, "!r1:remote invite e2", "!r2:remote invite e3")
	if got, _ := db.RemoteInvitesForUser(ctx, user, 0, 10); len(got) != 2 || string(got[0].InviteState) != `[]` {
		t.Errorf("invite state after a caller changed its copy: %+v", got)
	}

	posLeave, err := db.RejectRemoteInvite(ctx, "!r1:remote", user, []byte("leave"))
	noErr(t, "RejectRemoteInvite", err)
	want("rejected, since the rejection", posLeave, 10, "!r2:remote invite e3")
	want("rejected, since before it", posLeave-1, 10, "!r2:remote invite e3", "!r1:remote leave leave")
	noErr(t, "DeleteRemoteInvite", db.DeleteRemoteInvite(ctx, "!r2:remote", user))
	want("pending one deleted", posLeave, 10)
	want("pending one deleted, since before the rejection", posLeave-1, 10, "!r1:remote leave leave")
	noErr(t, "DeleteRemoteInvite", db.DeleteRemoteInvite(ctx, "!r1:remote", user))
	want("rejected one deleted", 0, 10)

	// More pending invites than a cache may keep for one user.
	var all []string
	for i := range 20 {
		room := fmt.Sprintf("!m%02d:remote", i)
		add(room, fmt.Sprintf("m%02d", i))
		all = append(all, room+" invite "+fmt.Sprintf("m%02d", i))
		want(fmt.Sprintf("%d invites", i+1), 0, 100, all...)
	}
	want("many, limited", 0, 3, all[:3]...)
	noErr(t, "DeleteRemoteInvite", db.DeleteRemoteInvite(ctx, "!m00:remote", user))
	want("many, one deleted", 0, 100, all[1:]...)
}

func testCachedOneTimeKeyCounts(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	want := func(what string, counts map[string]int) {
		t.Helper()
		for i := range 2 {
			got, err := db.OneTimeKeyCounts(ctx, "@a:x", "D")
			noErr(t, what, err)
			wantEqual(t, fmt.Sprintf("%s: OneTimeKeyCounts, read %d", what, i+1), got, counts)
		}
	}
	upload := func(ids ...string) {
		t.Helper()
		var keys []storage.OneTimeKey
		for _, id := range ids {
			keys = append(keys, storage.OneTimeKey{KeyID: id, KeyJSON: []byte(fmt.Sprintf(`{"key":%q}`, id))})
		}
		noErr(t, "AddOneTimeKeys", db.AddOneTimeKeys(ctx, "@a:x", "D", keys))
	}
	claim := func(alg string) {
		t.Helper()
		got, err := db.ClaimKeys(ctx, []storage.KeyClaim{{UserID: "@a:x", DeviceID: "D", Algorithm: alg}})
		if err != nil || len(got) != 1 {
			t.Fatalf("ClaimKeys(%s) = %+v, %v", alg, got, err)
		}
	}
	want("none yet", map[string]int{})
	upload("signed_curve25519:A", "signed_curve25519:B", "curve25519:C")
	want("uploaded", map[string]int{"signed_curve25519": 2, "curve25519": 1})
	claim("signed_curve25519")
	want("one claimed", map[string]int{"signed_curve25519": 1, "curve25519": 1})
	upload("signed_curve25519:D")
	want("another uploaded", map[string]int{"signed_curve25519": 2, "curve25519": 1})

	got, err := db.OneTimeKeyCounts(ctx, "@a:x", "D")
	noErr(t, "OneTimeKeyCounts", err)
	got["signed_curve25519"] = 99
	got["other"] = 1
	want("after a caller changed its copy", map[string]int{"signed_curve25519": 2, "curve25519": 1})

	claim("curve25519")
	want("the last curve25519 claimed", map[string]int{"signed_curve25519": 2})
	if _, err := db.DeleteDeviceKeys(ctx, "@a:x", "D"); err != nil {
		t.Fatal(err)
	}
	want("device deleted", map[string]int{})
}

func testCachedFallbackKeyTypes(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	want := func(what string, types ...string) {
		t.Helper()
		for i := range 2 {
			got, err := db.UnusedFallbackKeyTypes(ctx, "@a:x", "D")
			noErr(t, what, err)
			// An empty list, not nil: sync sends it as a JSON array.
			if got == nil || !slices.Equal(got, types) {
				t.Errorf("%s: UnusedFallbackKeyTypes, read %d = %#v, want %q", what, i+1, got, types)
			}
		}
	}
	set := func(ids ...string) {
		t.Helper()
		var keys []storage.OneTimeKey
		for _, id := range ids {
			keys = append(keys, storage.OneTimeKey{KeyID: id, KeyJSON: []byte(`{"fallback":true}`)})
		}
		noErr(t, "SetFallbackKeys", db.SetFallbackKeys(ctx, "@a:x", "D", keys))
	}
	want("none yet")
	set("signed_curve25519:F1")
	want("set", "signed_curve25519")
	set("curve25519:G1")
	want("a second algorithm", "curve25519", "signed_curve25519")

	got, err := db.UnusedFallbackKeyTypes(ctx, "@a:x", "D")
	noErr(t, "UnusedFallbackKeyTypes", err)
	got[0] = "changed"
	want("after a caller changed its copy", "curve25519", "signed_curve25519")

	// With no one-time key left, a claim takes the fallback key and
	// marks it used.
	c, err := db.ClaimKeys(ctx, []storage.KeyClaim{{UserID: "@a:x", DeviceID: "D", Algorithm: "signed_curve25519"}})
	if err != nil || len(c) != 1 || c[0].KeyID != "signed_curve25519:F1" {
		t.Fatalf("ClaimKeys = %+v, %v; want the fallback key", c, err)
	}
	want("claimed", "curve25519")
	set("signed_curve25519:F2")
	want("a new fallback key", "curve25519", "signed_curve25519")
	if _, err := db.DeleteDeviceKeys(ctx, "@a:x", "D"); err != nil {
		t.Fatal(err)
	}
	want("device deleted")
}

// testCachedReadsRaceWrites: while other readers keep reading (and
// filling a cache), a writer reads back each of its writes. A reader that
// fetched the value before a write must not put it back after the write.
func testCachedReadsRaceWrites(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	const writes, readers = 150, 3
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range readers {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				_, _ = db.AccountData(ctx, alice, "", "m.ignored_user_list")
				_, _ = db.OneTimeKeyCounts(ctx, alice, "D")
			}
		})
	}
	defer wg.Wait()
	defer close(done)
	for i := 1; i <= writes; i++ {
		content := fmt.Sprintf(`{"ignored_users":{},"n":%d}`, i)
		if _, err := db.SetAccountData(ctx, alice, "", "m.ignored_user_list", []byte(content)); err != nil {
			t.Fatal(err)
		}
		if got, err := db.AccountData(ctx, alice, "", "m.ignored_user_list"); err != nil || string(got) != content {
			t.Fatalf("write %d: read back %s, %v", i, got, err)
		}
		key := storage.OneTimeKey{KeyID: fmt.Sprintf("signed_curve25519:K%d", i), KeyJSON: []byte(`{}`)}
		if err := db.AddOneTimeKeys(ctx, alice, "D", []storage.OneTimeKey{key}); err != nil {
			t.Fatal(err)
		}
		if counts, err := db.OneTimeKeyCounts(ctx, alice, "D"); err != nil || counts["signed_curve25519"] != i {
			t.Fatalf("upload %d: read back %v, %v", i, counts, err)
		}
	}
}

// testCachedAccessTokens: a token looked up twice (so a cache holds it)
// reflects every write that can change the lookup's answer.
func testCachedAccessTokens(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	n := 0
	// session gives a fresh user a device and a token, looked up twice.
	session := func() storage.AccessToken {
		t.Helper()
		n++
		user := userID(fmt.Sprintf("tok%d", n), "a.example")
		mustCreateUser(t, db, user)
		mustCreateDevice(t, db, user, "D1")
		mustCreateDevice(t, db, user, "D2")
		tok := mustCreateToken(t, db, user, "D1", "t")
		wantToken(t, db, tok)
		wantToken(t, db, tok)
		return tok
	}
	gone := []struct {
		name  string
		write func(tok storage.AccessToken) error
	}{
		{"DeleteAccessToken", func(tok storage.AccessToken) error { return db.DeleteAccessToken(ctx, tok.TokenHash) }},
		{"DeleteUserAccessTokens", func(tok storage.AccessToken) error { return db.DeleteUserAccessTokens(ctx, tok.UserID, "D2") }},
		{"DeleteDevice", func(tok storage.AccessToken) error { return db.DeleteDevice(ctx, tok.UserID, "D1") }},
		{"DeleteDevices", func(tok storage.AccessToken) error { return db.DeleteDevices(ctx, tok.UserID, []string{"D1"}) }},
		{"ChangePassword logging out others", func(tok storage.AccessToken) error {
			return db.ChangePassword(ctx, tok.UserID, "$argon2id$new", true, "D2")
		}},
		{"StartSession on the same device", func(tok storage.AccessToken) error {
			next := storage.AccessToken{TokenHash: tokenHash(tok.UserID + "|next"), UserID: tok.UserID, DeviceID: "D1", CreatedTS: baseTS + 1}
			_, err := db.StartSession(ctx, storage.Device{UserID: tok.UserID, DeviceID: "D1", CreatedTS: baseTS + 1}, next)
			return err
		}},
		{"DeactivateUser", func(tok storage.AccessToken) error { return db.DeactivateUser(ctx, tok.UserID) }},
		{"DeactivateAccount", func(tok storage.AccessToken) error { return db.DeactivateAccount(ctx, tok.UserID, false, baseTS+1) }},
	}
	for _, c := range gone {
		tok := session()
		noErr(t, c.name, c.write(tok))
		wantNoToken(t, db, tok)
	}
	tok := session()
	noErr(t, "SetUserLocked", db.SetUserLocked(ctx, tok.UserID, true))
	tok.UserLocked = true
	wantToken(t, db, tok)
	noErr(t, "SetUserSuspended", db.SetUserSuspended(ctx, tok.UserID, true))
	tok.UserSuspended = true
	wantToken(t, db, tok)
	noErr(t, "SetUserLocked off", db.SetUserLocked(ctx, tok.UserID, false))
	tok.UserLocked = false
	wantToken(t, db, tok)
	// The answer is the caller's own to change.
	got, err := db.LookupAccessToken(ctx, tok.TokenHash)
	noErr(t, "LookupAccessToken", err)
	got.TokenHash[0] ^= 0xff
	wantToken(t, db, tok)
}
