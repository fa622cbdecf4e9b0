package storagetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/warbler-im/warbler/storage"
)

const mediaServer = "example.org"

// uploadedMedia is a complete record as a direct upload makes it.
func uploadedMedia(id, uploader string) storage.Media {
	return storage.Media{
		ServerName: mediaServer, MediaID: id, Uploader: uploader,
		ContentType: "image/png", Filename: "cat ü.png", Size: 1 << 33, // past 32 bits
		SHA256:    fmt.Sprintf("%064x", len(id)),
		CreatedTS: baseTS, UploadedTS: baseTS,
	}
}

// pendingMedia is a record as POST /create makes it.
func pendingMedia(id, uploader string, expiresTS int64) storage.Media {
	return storage.Media{ServerName: mediaServer, MediaID: id, Uploader: uploader, CreatedTS: baseTS, UnusedExpiresTS: expiresTS}
}

func testMedia(t *testing.T, open Opener) {
	tests := []struct {
		name string
		run  func(t *testing.T, db storage.Database)
	}{
		{"AddAndGet", testMediaAddAndGet},
		{"ReserveAndComplete", testMediaReserveAndComplete},
		{"PendingLimit", testMediaPendingLimit},
		{"ConcurrentReservations", testMediaConcurrentReservations},
		{"Quarantine", testMediaQuarantine},
		{"Thumbnails", testMediaThumbnails},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, openDB(t, open)) })
	}
}

func testMediaAddAndGet(t *testing.T, db storage.Database) {
	ctx := t.Context()
	m := uploadedMedia("abcDEF123_-", "@alice:example.org")
	noErr(t, "AddMedia", db.AddMedia(ctx, m))
	got, err := db.GetMedia(ctx, mediaServer, m.MediaID)
	noErr(t, "GetMedia", err)
	wantEqual(t, "GetMedia", got, m)
	if got.Pending() {
		t.Error("an uploaded record reports Pending")
	}
	wantErr(t, "AddMedia duplicate", db.AddMedia(ctx, m), storage.ErrConflict)

	remote := m
	remote.ServerName, remote.Uploader = "other.example", ""
	noErr(t, "AddMedia same ID on another server", db.AddMedia(ctx, remote))
	wantErr(t, "GetMedia unknown", ignoreValue(db.GetMedia(ctx, mediaServer, "nope")), storage.ErrNotFound)
	if err := db.AddMedia(ctx, storage.Media{ServerName: mediaServer}); err == nil {
		t.Error("AddMedia without a media ID succeeded")
	}
}

func testMediaReserveAndComplete(t *testing.T, db storage.Database) {
	ctx := t.Context()
	p := pendingMedia("pending1", "@alice:example.org", baseTS+1000)
	noErr(t, "ReserveMedia", db.ReserveMedia(ctx, p, 5, baseTS))
	got, err := db.GetMedia(ctx, mediaServer, p.MediaID)
	noErr(t, "GetMedia pending", err)
	wantEqual(t, "GetMedia pending", got, p)
	if !got.Pending() {
		t.Error("a reserved record does not report Pending")
	}
	wantErr(t, "ReserveMedia duplicate", db.ReserveMedia(ctx, p, 5, baseTS), storage.ErrConflict)

	done := uploadedMedia(p.MediaID, p.Uploader)
	done.UploadedTS = baseTS + 500
	noErr(t, "CompleteMedia", db.CompleteMedia(ctx, done))
	got, err = db.GetMedia(ctx, mediaServer, p.MediaID)
	noErr(t, "GetMedia completed", err)
	done.CreatedTS = p.CreatedTS // creation time is the reservation's
	wantEqual(t, "GetMedia completed", got, done)

	wantErr(t, "CompleteMedia twice", db.CompleteMedia(ctx, done), storage.ErrConflict)
	wantErr(t, "CompleteMedia unknown", db.CompleteMedia(ctx, uploadedMedia("ghost", "@alice:example.org")), storage.ErrNotFound)
	direct := uploadedMedia("direct", "@alice:example.org")
	noErr(t, "AddMedia", db.AddMedia(ctx, direct))
	wantErr(t, "CompleteMedia of a direct upload", db.CompleteMedia(ctx, direct), storage.ErrConflict)
}

func testMediaPendingLimit(t *testing.T, db storage.Database) {
	ctx := t.Context()
	alice, bob := "@alice:example.org", "@bob:example.org"
	noErr(t, "reserve a1 (lapses at +100)", db.ReserveMedia(ctx, pendingMedia("a1", alice, baseTS+100), 2, baseTS))
	noErr(t, "reserve a2", db.ReserveMedia(ctx, pendingMedia("a2", alice, baseTS+1000), 2, baseTS))
	wantErr(t, "reserve a3 over the bound", db.ReserveMedia(ctx, pendingMedia("a3", alice, baseTS+1000), 2, baseTS), storage.ErrPendingLimit)
	noErr(t, "another user is not bound by alice's", db.ReserveMedia(ctx, pendingMedia("b1", bob, baseTS+1000), 2, baseTS))

	// Once a1 lapses it is dropped and no longer counts.
	noErr(t, "reserve a3 after a1 lapsed", db.ReserveMedia(ctx, pendingMedia("a3", alice, baseTS+1000), 2, baseTS+100))
	wantErr(t, "lapsed record is gone", ignoreValue(db.GetMedia(ctx, mediaServer, "a1")), storage.ErrNotFound)

	// Completing an upload frees its place.
	noErr(t, "complete a2", db.CompleteMedia(ctx, uploadedMedia("a2", alice)))
	noErr(t, "reserve a4 after a2 completed", db.ReserveMedia(ctx, pendingMedia("a4", alice, baseTS+1000), 2, baseTS+100))
	wantErr(t, "reserve a5 over the bound", db.ReserveMedia(ctx, pendingMedia("a5", alice, baseTS+1000), 2, baseTS+100), storage.ErrPendingLimit)
}

// testMediaConcurrentReservations races more creates than the bound
// allows: exactly the bound may succeed.
func testMediaConcurrentReservations(t *testing.T, db storage.Database) {
	const bound, racers = 3, 12
	var wg sync.WaitGroup
	errs := make(chan error, racers)
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := pendingMedia(fmt.Sprintf("race%d", i), "@alice:example.org", baseTS+1000)
			errs <- db.ReserveMedia(t.Context(), m, bound, baseTS)
		}()
	}
	wg.Wait()
	close(errs)
	ok := 0
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, storage.ErrPendingLimit):
			t.Errorf("ReserveMedia: %v", err)
		}
	}
	if ok != bound {
		t.Errorf("%d concurrent reservations succeeded, want %d", ok, bound)
	}
}

func testMediaQuarantine(t *testing.T, db storage.Database) {
	ctx := t.Context()
	m := uploadedMedia("q1", "@alice:example.org")
	noErr(t, "AddMedia", db.AddMedia(ctx, m))
	for _, q := range []bool{true, false} {
		noErr(t, "SetMediaQuarantined", db.SetMediaQuarantined(ctx, mediaServer, m.MediaID, q))
		got, err := db.GetMedia(ctx, mediaServer, m.MediaID)
		noErr(t, "GetMedia", err)
		if got.Quarantined != q {
			t.Errorf("Quarantined = %v, want %v", got.Quarantined, q)
		}
	}
	wantErr(t, "SetMediaQuarantined unknown", db.SetMediaQuarantined(ctx, mediaServer, "nope", true), storage.ErrNotFound)
}

func testMediaThumbnails(t *testing.T, db storage.Database) {
	ctx := t.Context()
	m := uploadedMedia("src", "@alice:example.org")
	noErr(t, "AddMedia", db.AddMedia(ctx, m))
	crop := storage.MediaThumbnail{ServerName: mediaServer, MediaID: m.MediaID, Width: 96, Height: 96, Method: "crop",
		ContentType: "image/jpeg", Size: 1234, SHA256: fmt.Sprintf("%064x", 1), CreatedTS: baseTS}
	scale := crop
	scale.Method, scale.ContentType = "scale", "image/png"
	noErr(t, "PutMediaThumbnail crop", db.PutMediaThumbnail(ctx, crop))
	noErr(t, "PutMediaThumbnail scale", db.PutMediaThumbnail(ctx, scale))
	got, err := db.GetMediaThumbnail(ctx, mediaServer, m.MediaID, 96, 96, "crop")
	noErr(t, "GetMediaThumbnail", err)
	wantEqual(t, "GetMediaThumbnail crop", got, crop)

	crop.Size, crop.SHA256, crop.CreatedTS = 999, fmt.Sprintf("%064x", 2), baseTS+1
	noErr(t, "PutMediaThumbnail replaces", db.PutMediaThumbnail(ctx, crop))
	got, err = db.GetMediaThumbnail(ctx, mediaServer, m.MediaID, 96, 96, "crop")
	noErr(t, "GetMediaThumbnail after replace", err)
	wantEqual(t, "GetMediaThumbnail replaced", got, crop)
	got, err = db.GetMediaThumbnail(ctx, mediaServer, m.MediaID, 96, 96, "scale")
	noErr(t, "GetMediaThumbnail scale", err)
	wantEqual(t, "GetMediaThumbnail scale", got, scale)

	wantErr(t, "GetMediaThumbnail other size", ignoreValue(db.GetMediaThumbnail(ctx, mediaServer, m.MediaID, 32, 32, "crop")), storage.ErrNotFound)
	orphan := crop
	orphan.MediaID = "ghost"
	wantErr(t, "PutMediaThumbnail of unknown media", db.PutMediaThumbnail(ctx, orphan), storage.ErrNotFound)
}
