package storagetest

import (
	"errors"
	"testing"

	"github.com/warbler-im/warbler/storage"
)

// testRoomMemberSummary: counts of joined and invited members, heroes in
// the order their memberships were set, the user left out, and the
// left/banned fallback.
func testRoomMemberSummary(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	bob, carol, dave, erin := userID("bob", "b.example"), userID("carol", "b.example"), userID("dave", "c.example"), userID("erin", "c.example")
	r := newTestRoom(t, db, "summary", alice)
	r.member(alice, "join")
	r.member(dave, "invite")
	r.member(bob, "join")
	r.member(carol, "join")
	r.member(erin, "join")
	r.member(erin, "ban")

	tests := []struct {
		name, exclude string
		maxHeroes     int
		want          storage.MemberSummary
	}{
		{"without alice", alice, 5, storage.MemberSummary{Joined: 3, Invited: 1, Heroes: []string{dave, bob, carol}}},
		{"bounded", alice, 2, storage.MemberSummary{Joined: 3, Invited: 1, Heroes: []string{dave, bob}}},
		{"without bob", bob, 5, storage.MemberSummary{Joined: 3, Invited: 1, Heroes: []string{alice, dave, carol}}},
	}
	for _, tc := range tests {
		got, err := db.RoomMemberSummary(ctx, r.id, tc.exclude, tc.maxHeroes)
		noErr(t, tc.name, err)
		wantEqual(t, tc.name, got, tc.want)
	}

	// Alone with those who left: they are the heroes.
	for _, u := range []string{dave, bob, carol} {
		r.member(u, "leave")
	}
	got, err := db.RoomMemberSummary(ctx, r.id, alice, 5)
	noErr(t, "alone", err)
	wantEqual(t, "alone", got, storage.MemberSummary{Joined: 1, Heroes: []string{erin, dave, bob, carol}})

	if _, err := db.RoomMemberSummary(ctx, "!nope:example.org", alice, 5); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("unknown room: %v, want ErrNotFound", err)
	}
}
