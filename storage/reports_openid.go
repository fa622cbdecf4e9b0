package storage

import "context"

// ContentReport is a user's report of an event or a room
// (POST /rooms/{roomId}/report[/{eventId}]), kept for administrators.
type ContentReport struct {
	RoomID     string
	EventID    string // "" for a report about the room
	UserID     string // who reported
	Reason     string
	Score      *int // nil when not given
	ReceivedTS int64
}

// ReportStore keeps content reports.
type ReportStore interface {
	// AddContentReport stores a report.
	AddContentReport(ctx context.Context, r ContentReport) error
	// ContentReports returns the newest limit reports, newest first.
	ContentReports(ctx context.Context, limit int) ([]ContentReport, error)
	// AddUserReport stores a report about a user.
	AddUserReport(ctx context.Context, r UserReport) error
	// UserReports returns the newest limit user reports, newest first.
	UserReports(ctx context.Context, limit int) ([]UserReport, error)
}

// OpenIDStore keeps the OpenID tokens that let other servers confirm a
// user's identity (/user/{userId}/openid/request_token). Only the
// token's SHA-256 is stored.
type OpenIDStore interface {
	// AddOpenIDToken stores a token hash for the user until expiresTS
	// (Unix ms), deleting tokens that expired before nowTS.
	AddOpenIDToken(ctx context.Context, tokenHash []byte, userID string, expiresTS, nowTS int64) error
	// OpenIDTokenUser returns the user of a token that is still valid at
	// nowTS; ErrNotFound if it is unknown or expired.
	OpenIDTokenUser(ctx context.Context, tokenHash []byte, nowTS int64) (string, error)
}
