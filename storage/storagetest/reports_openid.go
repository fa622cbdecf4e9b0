package storagetest

import (
	"errors"
	"testing"

	"github.com/warbler-im/warbler/storage"
)

func testContentReports(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	score := -100
	first := storage.ContentReport{RoomID: "!r:example.org", EventID: "$e", UserID: alice, Reason: "spam", Score: &score, ReceivedTS: 10}
	second := storage.ContentReport{RoomID: "!r:example.org", UserID: alice, Reason: "", ReceivedTS: 20}
	noErr(t, "first", db.AddContentReport(ctx, first))
	noErr(t, "second", db.AddContentReport(ctx, second))
	got, err := db.ContentReports(ctx, 10)
	noErr(t, "ContentReports", err)
	wantEqual(t, "ContentReports", got, []storage.ContentReport{second, first})
	got, err = db.ContentReports(ctx, 1)
	noErr(t, "ContentReports(1)", err)
	wantEqual(t, "ContentReports(1)", got, []storage.ContentReport{second})
}

func testOpenIDTokens(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	old, fresh := []byte("hash-old-00000000000000000000000"), []byte("hash-new-00000000000000000000000")
	noErr(t, "add old", db.AddOpenIDToken(ctx, old, alice, 1000, 0))
	tests := []struct {
		name string
		hash []byte
		now  int64
		want string
	}{
		{"valid", old, 999, alice},
		{"expired", old, 1000, ""},
		{"unknown", []byte("nope"), 0, ""},
	}
	for _, tc := range tests {
		user, err := db.OpenIDTokenUser(ctx, tc.hash, tc.now)
		if tc.want == "" && !errors.Is(err, storage.ErrNotFound) || tc.want != "" && (err != nil || user != tc.want) {
			t.Errorf("%s: %q, %v; want %q", tc.name, user, err, tc.want)
		}
	}
	// Issuing a token later deletes the expired one for good.
	noErr(t, "add fresh", db.AddOpenIDToken(ctx, fresh, alice, 5000, 2000))
	if _, err := db.OpenIDTokenUser(ctx, old, 0); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("expired token survived a later issue: %v", err)
	}
	if user, err := db.OpenIDTokenUser(ctx, fresh, 2000); err != nil || user != alice {
		t.Errorf("fresh: %q, %v", user, err)
	}
}
