package storage

import "context"

// ModerationStore keeps what server admins decide about local accounts:
// locks and suspensions (admin.yaml).
type ModerationStore interface {
	// SetUserLocked and SetUserSuspended set or clear a flag;
	// ErrNotFound if the user is unknown.
	SetUserLocked(ctx context.Context, userID string, locked bool) error
	SetUserSuspended(ctx context.Context, userID string, suspended bool) error
}

// UserReport is a user's report of another user
// (POST /users/{userId}/report), kept for administrators.
type UserReport struct {
	TargetUserID string // the reported user
	UserID       string // who reported
	Reason       string
	ReceivedTS   int64
}

// LoginTokenStore keeps the single-use tokens of the m.login.token login
// (POST /login/get_token). Only the token's SHA-256 is stored.
type LoginTokenStore interface {
	// AddLoginToken stores a token hash for the user until expiresTS
	// (Unix ms), deleting tokens that expired before nowTS.
	AddLoginToken(ctx context.Context, tokenHash []byte, userID string, expiresTS, nowTS int64) error
	// TakeLoginToken deletes the token and returns its user if it was
	// still valid at nowTS, so that no token logs in twice, even when two
	// logins race; ErrNotFound if it is unknown, used or expired.
	TakeLoginToken(ctx context.Context, tokenHash []byte, nowTS int64) (string, error)
}
