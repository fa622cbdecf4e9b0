package storagetest

import (
	"errors"
	"testing"

	"github.com/warbler-im/warbler/storage"
)

// testRemoteInvites: an invite takes the next events stream position, a
// newer invite into the same room replaces the older, a user's invites
// come oldest first and bounded, a rejected one stays as a leave for
// syncs from before it, and a deleted invite is gone.
func testRemoteInvites(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	before, err := db.MaxStreamPosition(ctx)
	if err != nil {
		t.Fatal(err)
	}
	inv := storage.RemoteInvite{RoomID: "!r:remote", UserID: "@bob:x", EventID: "$1", RoomVersion: "12",
		Sender: "@alice:remote", Event: []byte(`{"type":"m.room.member"}`), InviteState: []byte(`[]`)}
	pos1, err := db.AddRemoteInvite(ctx, inv)
	if err != nil {
		t.Fatal(err)
	}
	if pos1 != before+1 {
		t.Errorf("first invite at %d, want %d", pos1, before+1)
	}
	if after, _ := db.MaxStreamPosition(ctx); after != pos1 {
		t.Errorf("MaxStreamPosition %d after invite at %d", after, pos1)
	}
	inv2 := inv
	inv2.RoomID, inv2.EventID = "!s:remote", "$2"
	if _, err := db.AddRemoteInvite(ctx, inv2); err != nil {
		t.Fatal(err)
	}
	inv.EventID = "$3"
	pos3, err := db.AddRemoteInvite(ctx, inv)
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.RemoteInvite(ctx, "!r:remote", "@bob:x")
	if err != nil || got.EventID != "$3" || got.StreamPos != pos3 || string(got.InviteState) != "[]" || got.Sender != "@alice:remote" {
		t.Errorf("replaced invite: %+v %v", got, err)
	}
	list, err := db.RemoteInvitesForUser(ctx, "@bob:x", 0, 10)
	if err != nil || len(list) != 2 || list[0].RoomID != "!s:remote" || list[1].RoomID != "!r:remote" {
		t.Errorf("RemoteInvitesForUser: %+v %v", list, err)
	}
	if list, _ := db.RemoteInvitesForUser(ctx, "@bob:x", 0, 1); len(list) != 1 {
		t.Errorf("limit 1 gave %d invites", len(list))
	}
	if got.Membership != "invite" {
		t.Errorf("pending invite has membership %q", got.Membership)
	}
	// A rejection keeps the row, as a leave at a new position, for the
	// syncs that have not seen it yet.
	posLeave, err := db.RejectRemoteInvite(ctx, "!s:remote", "@bob:x", []byte(`{"leave":1}`))
	if err != nil || posLeave <= pos3 {
		t.Fatalf("RejectRemoteInvite: %d %v", posLeave, err)
	}
	if _, err := db.RejectRemoteInvite(ctx, "!s:remote", "@bob:x", nil); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("rejecting twice: %v, want ErrNotFound", err)
	}
	if _, err := db.RemoteInvite(ctx, "!s:remote", "@bob:x"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("rejected invite still pending: %v", err)
	}
	if list, _ := db.RemoteInvitesForUser(ctx, "@bob:x", posLeave, 10); len(list) != 1 || list[0].RoomID != "!r:remote" {
		t.Errorf("since the rejection: %+v, want only the pending invite", list)
	}
	list, _ = db.RemoteInvitesForUser(ctx, "@bob:x", posLeave-1, 10)
	if len(list) != 2 || list[1].Membership != "leave" || string(list[1].Event) != `{"leave":1}` || list[1].StreamPos != posLeave {
		t.Errorf("before the rejection: %+v", list)
	}
	if err := db.DeleteRemoteInvite(ctx, "!r:remote", "@bob:x"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RemoteInvite(ctx, "!r:remote", "@bob:x"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("deleted invite: %v, want ErrNotFound", err)
	}
	if err := db.DeleteRemoteInvite(ctx, "!r:remote", "@bob:x"); err != nil {
		t.Errorf("deleting twice: %v", err)
	}
}
