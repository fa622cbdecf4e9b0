package storagetest

import (
	"errors"
	"slices"
	"testing"

	"github.com/warbler-im/warbler/storage"
)

// testAliases: an alias maps to its room and creator until deleted, a
// taken alias conflicts, and a room lists its aliases sorted.
func testAliases(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	for _, a := range []string{"#b:x", "#a:x"} {
		if err := db.CreateAlias(ctx, a, "!r:x", "@alice:x"); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.CreateAlias(ctx, "#a:x", "!other:x", "@bob:x"); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("taken alias: %v, want ErrConflict", err)
	}
	if room, creator, err := db.AliasRoom(ctx, "#a:x"); err != nil || room != "!r:x" || creator != "@alice:x" {
		t.Errorf("AliasRoom: %q %q %v", room, creator, err)
	}
	if got, err := db.RoomAliases(ctx, "!r:x"); err != nil || !slices.Equal(got, []string{"#a:x", "#b:x"}) {
		t.Errorf("RoomAliases: %v %v", got, err)
	}
	if err := db.DeleteAlias(ctx, "#a:x"); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteAlias(ctx, "#a:x"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("deleting twice: %v, want ErrNotFound", err)
	}
	if _, _, err := db.AliasRoom(ctx, "#a:x"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("deleted alias: %v, want ErrNotFound", err)
	}
	if got, err := db.RoomAliases(ctx, "!none:x"); err != nil || len(got) != 0 {
		t.Errorf("aliases of a room without any: %v %v", got, err)
	}
}
