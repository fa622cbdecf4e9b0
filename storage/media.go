package storage

import (
	"context"
	"errors"
)

// ErrPendingLimit reports that a user already holds as many unexpired,
// not yet uploaded media IDs as they may.
var ErrPendingLimit = errors.New("storage: too many pending media uploads")

// Media is the metadata of one piece of content in the media repository,
// named by its mxc://ServerName/MediaID URI. The bytes live outside the
// database, in a file named by SHA256.
//
// A record made by POST /_matrix/media/v1/create is pending until its
// content is uploaded: UploadedTS is 0 and SHA256 is "" while it is.
type Media struct {
	ServerName  string
	MediaID     string
	Uploader    string // local user ID; "" for media cached from another server
	ContentType string // "" means unknown
	Filename    string // "" if the upload named none
	Size        int64
	SHA256      string // lower-case hex of the content; "" while pending
	CreatedTS   int64  // Unix milliseconds
	UploadedTS  int64  // Unix milliseconds; 0 while pending
	// UnusedExpiresTS is when a pending record lapses if nothing has been
	// uploaded to it; 0 for records that were never pending.
	UnusedExpiresTS int64
	// Quarantined media is kept but never served.
	Quarantined bool
}

// Pending reports whether the record still waits for its content.
func (m Media) Pending() bool { return m.UploadedTS == 0 }

// MediaThumbnail is a generated thumbnail of a media item, stored like
// media by content hash and keyed by its source and the size and method
// it was made for.
type MediaThumbnail struct {
	ServerName  string
	MediaID     string
	Width       int    // the size the thumbnail was made for, not
	Height      int    // necessarily its pixel size
	Method      string // "crop" or "scale"
	ContentType string
	Size        int64
	SHA256      string
	CreatedTS   int64
}

// MediaStore keeps media metadata and thumbnail records.
type MediaStore interface {
	// AddMedia stores a complete record (UploadedTS set); ErrConflict if
	// the server name and media ID are taken.
	AddMedia(ctx context.Context, m Media) error
	// ReserveMedia stores a pending record for m.Uploader, first dropping
	// that user's pending records that lapsed before nowTS. It fails with
	// ErrPendingLimit if the user already holds maxPending unexpired ones,
	// and with ErrConflict if the ID is taken.
	ReserveMedia(ctx context.Context, m Media, maxPending int, nowTS int64) error
	// CompleteMedia fills in a pending record's content type, filename,
	// size, hash and upload time; ErrNotFound if the record is unknown,
	// ErrConflict if it already has content.
	CompleteMedia(ctx context.Context, m Media) error
	// GetMedia returns one record, pending or not; ErrNotFound if unknown.
	GetMedia(ctx context.Context, serverName, mediaID string) (Media, error)
	// SetMediaQuarantined sets or clears the quarantine flag; ErrNotFound
	// if the record is unknown.
	SetMediaQuarantined(ctx context.Context, serverName, mediaID string, quarantined bool) error

	// PutMediaThumbnail stores a thumbnail record, replacing one with the
	// same source, size and method; ErrNotFound if the source is unknown.
	PutMediaThumbnail(ctx context.Context, t MediaThumbnail) error
	// GetMediaThumbnail returns the thumbnail made for that size and
	// method; ErrNotFound if there is none.
	GetMediaThumbnail(ctx context.Context, serverName, mediaID string, width, height int, method string) (MediaThumbnail, error)
}
