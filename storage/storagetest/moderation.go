package storagetest

import (
	"errors"
	"testing"

	"github.com/warbler-im/warbler/storage"
)

// testModeration: locks and suspensions are independent flags, read back
// by GetUser and by the access token lookup, and leave tokens in place.
func testModeration(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	mustCreateUser(t, db, alice)
	mustCreateDevice(t, db, alice, "PHONE")
	tok := mustCreateToken(t, db, alice, "PHONE", "a")
	steps := []struct {
		name              string
		change            func() error
		locked, suspended bool
	}{
		{"lock", func() error { return db.SetUserLocked(ctx, alice, true) }, true, false},
		{"suspend", func() error { return db.SetUserSuspended(ctx, alice, true) }, true, true},
		{"unlock", func() error { return db.SetUserLocked(ctx, alice, false) }, false, true},
		{"unsuspend", func() error { return db.SetUserSuspended(ctx, alice, false) }, false, false},
	}
	for _, step := range steps {
		noErr(t, step.name, step.change())
		u, err := db.GetUser(ctx, alice)
		noErr(t, step.name+": GetUser", err)
		if u.Locked != step.locked || u.Suspended != step.suspended {
			t.Errorf("%s: GetUser locked=%v suspended=%v; want %v %v", step.name, u.Locked, u.Suspended, step.locked, step.suspended)
		}
		got, err := db.LookupAccessToken(ctx, tok.TokenHash)
		noErr(t, step.name+": LookupAccessToken", err)
		if got.UserLocked != step.locked || got.UserSuspended != step.suspended {
			t.Errorf("%s: token locked=%v suspended=%v; want %v %v", step.name, got.UserLocked, got.UserSuspended, step.locked, step.suspended)
		}
	}
	for name, err := range map[string]error{
		"lock unknown":    db.SetUserLocked(ctx, "@nobody:example.org", true),
		"suspend unknown": db.SetUserSuspended(ctx, "@nobody:example.org", true),
	} {
		if !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("%s: %v; want ErrNotFound", name, err)
		}
	}
}

func testUserReports(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	first := storage.UserReport{TargetUserID: "@spammer:example.org", UserID: alice, Reason: "spam", ReceivedTS: 10}
	second := storage.UserReport{TargetUserID: "@other:elsewhere.org", UserID: alice, ReceivedTS: 20}
	noErr(t, "first", db.AddUserReport(ctx, first))
	noErr(t, "second", db.AddUserReport(ctx, second))
	got, err := db.UserReports(ctx, 10)
	noErr(t, "UserReports", err)
	wantEqual(t, "UserReports", got, []storage.UserReport{second, first})
	got, err = db.UserReports(ctx, 1)
	noErr(t, "UserReports(1)", err)
	wantEqual(t, "UserReports(1)", got, []storage.UserReport{second})
}

// testLoginTokens: a token logs in once, not after it expired, and expired
// tokens are swept when new ones are issued.
func testLoginTokens(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	hash := func(s string) []byte { return tokenHash("login|" + s) }
	noErr(t, "add a", db.AddLoginToken(ctx, hash("a"), alice, 1000, 0))
	noErr(t, "add b", db.AddLoginToken(ctx, hash("b"), alice, 1000, 0))
	noErr(t, "add c", db.AddLoginToken(ctx, hash("c"), alice, 1000, 0))
	tests := []struct {
		name string
		hash []byte
		now  int64
		want string
	}{
		{"valid", hash("a"), 999, alice},
		{"used twice", hash("a"), 999, ""},
		{"expired", hash("b"), 1000, ""},
		{"unknown", hash("nope"), 0, ""},
	}
	for _, tc := range tests {
		user, err := db.TakeLoginToken(ctx, tc.hash, tc.now)
		if tc.want == "" && !errors.Is(err, storage.ErrNotFound) || tc.want != "" && (err != nil || user != tc.want) {
			t.Errorf("%s: %q, %v; want %q", tc.name, user, err, tc.want)
		}
	}
	noErr(t, "add d", db.AddLoginToken(ctx, hash("d"), alice, 5000, 2000))
	if _, err := db.TakeLoginToken(ctx, hash("c"), 0); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("expired token survived a later issue: %v", err)
	}
}
