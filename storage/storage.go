package storage

import (
	"context"
	"errors"
)

var (
	// ErrNotFound reports that the user, device, token or key named in a
	// call does not exist.
	ErrNotFound = errors.New("storage: not found")
	// ErrConflict reports that a create call would duplicate something that
	// already exists (a user ID, a device ID for the user, a token hash, a
	// signing key ID).
	ErrConflict = errors.New("storage: already exists")
)

// SigningKey is one of this server's own ed25519 signing keys, as published
// at /_matrix/key/v2/server. Old keys are kept after they expire so remote
// servers can still verify events signed with them.
type SigningKey struct {
	KeyID     string // e.g. "ed25519:a_AbCd"
	PublicKey []byte // raw 32-byte ed25519 public key
	CreatedTS int64  // Unix milliseconds
	ExpiredTS int64  // Unix milliseconds; 0 while the key is current
}

// User is a local account.
type User struct {
	UserID       string // full Matrix ID, "@localpart:server"
	PasswordHash string // "" means password login is not possible
	IsAdmin      bool
	IsGuest      bool
	Deactivated  bool
	// Locked and Suspended are set by server admins (PUT /admin/lock and
	// /admin/suspend); both are reversible and keep the account's sessions.
	Locked    bool
	Suspended bool
	CreatedTS int64 // Unix milliseconds
}

// Device is a login session of a local user; access tokens belong to it.
type Device struct {
	UserID      string
	DeviceID    string
	DisplayName string
	CreatedTS   int64  // Unix milliseconds
	LastSeenTS  int64  // Unix milliseconds; 0 if never seen after creation
	LastSeenIP  string // "" if unknown
}

// AccessToken is the stored form of an access token. Storage only ever sees
// the SHA-256 of the token (and of its refresh token), never the token, so a
// leaked database does not leak usable credentials.
type AccessToken struct {
	TokenHash        []byte // SHA-256 of the access token
	UserID           string
	DeviceID         string
	CreatedTS        int64  // Unix milliseconds
	ExpiresTS        int64  // Unix milliseconds; 0 means it never expires
	RefreshTokenHash []byte // SHA-256 of the paired refresh token; nil if none
	// UserLocked and UserSuspended are the account's flags at lookup time,
	// filled by LookupAccessToken only, so that authenticating a request
	// costs no second read.
	UserLocked    bool
	UserSuspended bool
}

// ServerKeyStore keeps the history of this server's own signing keys.
type ServerKeyStore interface {
	// AddSigningKey records a new key; ErrConflict if its KeyID is known.
	AddSigningKey(ctx context.Context, k SigningKey) error
	// SigningKeys returns every key, current and expired, oldest first.
	SigningKeys(ctx context.Context) ([]SigningKey, error)
	// ExpireSigningKey marks a key as no longer current; ErrNotFound if unknown.
	ExpireSigningKey(ctx context.Context, keyID string, expiredTS int64) error
}

// UserStore keeps local accounts.
type UserStore interface {
	// CreateUser adds an account; ErrConflict if the user ID is taken.
	CreateUser(ctx context.Context, u User) error
	// GetUser returns an account, deactivated or not; ErrNotFound if unknown.
	GetUser(ctx context.Context, userID string) (User, error)
	// SetPasswordHash replaces the hash; "" disables password login.
	SetPasswordHash(ctx context.Context, userID, hash string) error
	// SetAdmin grants or revokes server admin rights.
	SetAdmin(ctx context.Context, userID string, isAdmin bool) error
	// DeactivateUser marks the account deactivated, clears its password
	// hash and removes all its devices and access tokens, atomically.
	DeactivateUser(ctx context.Context, userID string) error
	// CountUsers counts all accounts, including guests and deactivated ones.
	CountUsers(ctx context.Context) (int, error)
}

// DeviceStore keeps the devices (login sessions) of local users.
//
// Single-device calls return ErrNotFound when the user or device is unknown.
type DeviceStore interface {
	// CreateDevice adds a device; ErrNotFound if the user is unknown,
	// ErrConflict if the user already has a device with that ID.
	CreateDevice(ctx context.Context, d Device) error
	GetDevice(ctx context.Context, userID, deviceID string) (Device, error)
	// ListDevices returns the user's devices ordered by device ID; an
	// unknown user has none.
	ListDevices(ctx context.Context, userID string) ([]Device, error)
	SetDeviceDisplayName(ctx context.Context, userID, deviceID, displayName string) error
	// TouchDevice records when and from where the device was last used.
	TouchDevice(ctx context.Context, userID, deviceID string, ts int64, ip string) error
	// DeleteDevice removes the device and its access tokens atomically.
	DeleteDevice(ctx context.Context, userID, deviceID string) error
	// DeleteDevices removes several devices and their tokens atomically;
	// IDs that do not exist are ignored, as the client API requires.
	DeleteDevices(ctx context.Context, userID string, deviceIDs []string) error
}

// TokenStore keeps hashed access tokens. Every token belongs to a device.
type TokenStore interface {
	// CreateAccessToken stores a token for an existing device; ErrNotFound
	// if the device is unknown, ErrConflict if either hash is already stored.
	CreateAccessToken(ctx context.Context, t AccessToken) error
	// LookupAccessToken finds a token by its hash; ErrNotFound if unknown.
	// It does not judge expiry: the caller compares ExpiresTS to its clock.
	LookupAccessToken(ctx context.Context, tokenHash []byte) (AccessToken, error)
	// DeleteAccessToken removes one token; ErrNotFound if unknown.
	DeleteAccessToken(ctx context.Context, tokenHash []byte) error
	// DeleteUserAccessTokens removes all the user's tokens except those of
	// exceptDeviceID ("" keeps none). Devices stay.
	DeleteUserAccessTokens(ctx context.Context, userID string, exceptDeviceID string) error
}

// Database is everything a Warbler process stores, behind one handle.
// It is safe for concurrent use.
type Database interface {
	ServerKeyStore
	RemoteServerKeyStore
	UserStore
	DeviceStore
	TokenStore
	AccountStore
	RoomStore
	RelationStore
	MediaStore
	FilterStore
	AliasStore
	SearchStore
	FederationQueueStore
	E2EEStore
	RemoteDeviceStore
	RemoteInviteStore
	UserDataStore
	DirectoryStore
	PushStore
	RoomSummaryStore
	ReportStore
	OpenIDStore
	ModerationStore
	LoginTokenStore
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close releases the database; later calls fail. Closing twice is harmless.
	Close() error
}
