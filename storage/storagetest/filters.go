package storagetest

import (
	"errors"
	"testing"

	"github.com/warbler-im/warbler/storage"
)

// testFilters: filters come back byte for byte to their owner only, the
// same JSON saved twice keeps one ID, and they survive a reopen.
func testFilters(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	a := []byte(`{"room":{"timeline":{"limit":1}}}`)
	b := []byte(`{"room":{"state":{"lazy_load_members":true}}}`)
	idA, err := db.SaveFilter(ctx, "@alice:x", a)
	if err != nil {
		t.Fatal(err)
	}
	idB, err := db.SaveFilter(ctx, "@alice:x", b)
	if err != nil || idB == idA {
		t.Fatalf("second filter: %q %v (first %q)", idB, err, idA)
	}
	if again, err := db.SaveFilter(ctx, "@alice:x", a); err != nil || again != idA {
		t.Errorf("the same filter saved again: %q %v, want %q", again, err, idA)
	}
	if bobs, err := db.SaveFilter(ctx, "@bob:x", a); err != nil || bobs == idA {
		t.Errorf("bob's copy of alice's filter: %q %v", bobs, err)
	}
	wantFilter(t, db, "@alice:x", idA, a)
	wantFilter(t, db, "@alice:x", idB, b)
	for _, id := range []string{"999999", "0", "-1", "abc", ""} {
		if _, err := db.Filter(ctx, "@alice:x", id); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("filter %q: %v, want ErrNotFound", id, err)
		}
	}
	if _, err := db.Filter(ctx, "@bob:x", idA); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("another user's filter: %v, want ErrNotFound", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	wantFilter(t, openDB(t, open), "@alice:x", idA, a)
}

func wantFilter(t *testing.T, db storage.Database, userID, id string, want []byte) {
	t.Helper()
	got, err := db.Filter(t.Context(), userID, id)
	if err != nil || string(got) != string(want) {
		t.Errorf("filter %s of %s: %s %v, want %s", id, userID, got, err, want)
	}
}
