package storagetest

import (
	"fmt"
	"testing"

	"github.com/warbler-im/warbler/storage"
)

// testHasAnnotation: an annotation counts for its sender, event type, key,
// parent and room only, and no longer once redacted.
func testHasAnnotation(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	r := newTestRoom(t, db, "annot", alice)
	r.member(alice, "join")
	r.member(bob, "join")
	root, _ := r.message(alice, "root")
	other, _ := r.message(alice, "other")
	react := func(room *testRoom, sender, parent, key string) storage.NewEvent {
		ev := room.event("m.reaction", nil, sender, fmt.Sprintf(`{"m.relates_to":{"rel_type":"m.annotation","event_id":%q,"key":%q}}`, parent, key))
		room.apply(ev)
		return ev
	}
	thumb := react(r, bob, root.EventID, "+1")
	elsewhere := newTestRoom(t, db, "annot2", alice)
	elsewhere.member(alice, "join")
	react(elsewhere, alice, root.EventID, "x")

	tests := []struct {
		name                           string
		room, parent, sender, typ, key string
		want                           bool
	}{
		{"same", r.id, root.EventID, bob, "m.reaction", "+1", true},
		{"other key", r.id, root.EventID, bob, "m.reaction", "-1", false},
		{"other sender", r.id, root.EventID, alice, "m.reaction", "+1", false},
		{"other parent", r.id, other.EventID, bob, "m.reaction", "+1", false},
		{"other type", r.id, root.EventID, bob, "m.room.message", "+1", false},
		{"other room", r.id, root.EventID, alice, "m.reaction", "x", false},
	}
	for _, tc := range tests {
		got, err := db.HasAnnotation(ctx, tc.room, tc.parent, tc.sender, tc.typ, tc.key)
		noErr(t, tc.name, err)
		if got != tc.want {
			t.Errorf("%s: HasAnnotation = %v; want %v", tc.name, got, tc.want)
		}
	}
	redaction, _ := r.message(bob, "stand-in for a redaction")
	noErr(t, "MarkRedacted", db.MarkRedacted(ctx, thumb.EventID, redaction.EventID))
	got, err := db.HasAnnotation(ctx, r.id, root.EventID, bob, "m.reaction", "+1")
	noErr(t, "after redaction", err)
	if got {
		t.Error("a redacted annotation still counts")
	}
}
