package storage

import "context"

// Profile is the public profile of a local user. An empty field is unset.
type Profile struct {
	UserID      string
	DisplayName string
	AvatarURL   string // an mxc:// URI
}

// RegistrationToken is a pre-shared token that lets its holder register
// when registration requires one (the m.login.registration_token stage).
//
// A token is usable while it has not expired and, if its uses are limited,
// Pending+Completed < UsesAllowed: a use is reserved (Pending) when a
// client passes the token stage and becomes Completed when that
// registration finishes, so concurrent sign-ups cannot overdraw it.
type RegistrationToken struct {
	Token       string
	UsesAllowed *int64 // nil: unlimited
	Pending     int64
	Completed   int64
	ExpiryTS    int64 // Unix milliseconds; 0 means it never expires
	CreatedTS   int64 // Unix milliseconds
}

// NewAccount is everything a registration writes at once.
type NewAccount struct {
	User    User
	Profile Profile // Profile.UserID is taken from User
	// RegistrationToken, if set, names the token whose reserved use this
	// registration completes.
	RegistrationToken string
}

// AccountStore keeps what account management needs beyond users, devices
// and tokens: profiles, registration tokens, refresh token rotation and
// the multi-step account changes that must be atomic.
type AccountStore interface {
	// CreateAccount adds the user and its profile and, if named, turns one
	// pending use of the registration token into a completed one, all in
	// one transaction; ErrConflict if the user ID is taken.
	CreateAccount(ctx context.Context, a NewAccount) error
	// DeactivateAccount does what DeactivateUser does, clears the profile
	// and, when erase is set, records that the user asked for erasure.
	DeactivateAccount(ctx context.Context, userID string, erase bool, ts int64) error
	// IsUserErased reports whether the user asked for erasure.
	IsUserErased(ctx context.Context, userID string) (bool, error)
	// ChangePassword sets the password hash and, when logoutOthers is set,
	// removes every device of the user but keepDeviceID ("" keeps none),
	// with their tokens, atomically; ErrNotFound if the user is unknown.
	ChangePassword(ctx context.Context, userID, hash string, logoutOthers bool, keepDeviceID string) error

	// StartSession creates the device if the user does not have it yet,
	// replaces any tokens the device had with t, atomically; ErrNotFound if
	// the user is unknown. It reports whether the device was created.
	StartSession(ctx context.Context, d Device, t AccessToken) (created bool, err error)
	// LookupRefreshToken finds the access token row paired with a refresh
	// token hash; ErrNotFound if unknown or revoked.
	LookupRefreshToken(ctx context.Context, refreshHash []byte) (AccessToken, error)
	// RotateRefreshToken replaces the refresh token named by refreshHash
	// with next (on the same device): the old access token expires at
	// nowTS, the old refresh token stays usable until next is confirmed,
	// and a previous, never-used successor of the old token is dropped.
	// Using a refresh token also confirms the token it belongs to.
	// ErrNotFound if refreshHash is unknown.
	RotateRefreshToken(ctx context.Context, refreshHash []byte, next AccessToken, nowTS int64) error
	// ConfirmRefreshedToken marks a token made by RotateRefreshToken as
	// used, revoking the token it replaced. It is a no-op for any other
	// token.
	ConfirmRefreshedToken(ctx context.Context, tokenHash []byte) error

	// GetProfile returns a user's profile; ErrNotFound if the user is
	// unknown.
	GetProfile(ctx context.Context, userID string) (Profile, error)
	// SetDisplayName and SetAvatarURL change one profile field ("" clears
	// it); ErrNotFound if the user is unknown.
	SetDisplayName(ctx context.Context, userID, displayName string) error
	SetAvatarURL(ctx context.Context, userID, avatarURL string) error

	// CreateRegistrationToken adds a token; ErrConflict if it exists.
	CreateRegistrationToken(ctx context.Context, t RegistrationToken) error
	// GetRegistrationToken returns one token; ErrNotFound if unknown.
	GetRegistrationToken(ctx context.Context, token string) (RegistrationToken, error)
	// ListRegistrationTokens returns every token ordered by creation.
	ListRegistrationTokens(ctx context.Context) ([]RegistrationToken, error)
	// DeleteRegistrationToken removes a token; ErrNotFound if unknown.
	DeleteRegistrationToken(ctx context.Context, token string) error
	// ReserveRegistrationToken takes one pending use of a token that is
	// usable at nowTS; ErrNotFound if it is unknown, expired or used up.
	ReserveRegistrationToken(ctx context.Context, token string, nowTS int64) error
	// ReleaseRegistrationToken gives back a pending use that will not be
	// completed; ErrNotFound if the token is unknown.
	ReleaseRegistrationToken(ctx context.Context, token string) error
	// ResetPendingRegistrations sets every token's pending count to zero,
	// for a server start when no registration can be in progress.
	ResetPendingRegistrations(ctx context.Context) error
}
