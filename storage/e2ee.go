package storage

import (
	"context"
	"errors"
)

// ErrWrongBackupVersion reports a key backup write to a version that is
// not the user's current one (M_WRONG_ROOM_KEYS_VERSION).
var ErrWrongBackupVersion = errors.New("storage: not the current backup version")

// Device list stream change kinds (DeviceListChange.Kind).
const (
	DeviceListKeys  = "k" // the user's devices or keys changed
	DeviceListJoin  = "j" // the user joined RoomID
	DeviceListLeave = "l" // the user left RoomID
)

// OneTimeKey is an uploaded one-time or fallback key.
type OneTimeKey struct {
	KeyID   string // "algorithm:id", e.g. "signed_curve25519:AAAAHg"
	KeyJSON []byte // the key as uploaded: a string or a signed object
}

// KeyClaim asks for one key of Algorithm from a device.
type KeyClaim struct {
	UserID, DeviceID, Algorithm string
}

// ClaimedKey is a key handed out by ClaimKeys.
type ClaimedKey struct {
	UserID, DeviceID string
	OneTimeKey
}

// KeySignature is one signature of a key: signer's key SignerKeyID
// ("ed25519:…") signed the target user's key TargetKeyID (a device ID or
// a cross-signing public key).
type KeySignature struct {
	SignerUserID, SignerKeyID string
	TargetUserID, TargetKeyID string
	Signature                 string
}

// DeviceListChange is one entry of the device list stream.
type DeviceListChange struct {
	Pos    int64
	UserID string
	RoomID string // for joins and leaves
	Kind   string // DeviceListKeys, DeviceListJoin or DeviceListLeave
}

// ToDeviceMessage is a message waiting for one device.
type ToDeviceMessage struct {
	UserID, DeviceID string // the recipient
	Pos              int64
	Sender           string
	Type             string
	Content          []byte
}

// BackupVersion is a server-side key backup version.
type BackupVersion struct {
	Version   string // a decimal number
	Algorithm string
	AuthData  []byte
	ETag      string
	Count     int64
}

// BackupKey is one backed-up room key session.
type BackupKey struct {
	RoomID, SessionID string
	FirstMessageIndex int64
	ForwardedCount    int64
	IsVerified        bool
	SessionData       []byte
}

// E2EEStore keeps what end-to-end encryption needs from the server: keys,
// signatures, the device list and to-device streams, and key backups.
// Key JSON is opaque here; the client API checks its shape.
//
// Stream writes return the stream position they were written at. A
// position is visible only once every lower one is: a reader that saw N
// never misses a write at a lower position.
type E2EEStore interface {
	// SetDeviceKeys stores a device's identity keys. If they differ from
	// those stored, a DeviceListKeys change is recorded and its position
	// returned; otherwise pos is 0.
	SetDeviceKeys(ctx context.Context, userID, deviceID string, keyJSON []byte) (pos int64, err error)
	// DeviceKeys returns the stored device keys of the users, by user and
	// device. Users without keys are missing from the map.
	DeviceKeys(ctx context.Context, userIDs []string) (map[string]map[string][]byte, error)
	// DeleteDeviceKeys removes a device's keys, one-time keys, fallback
	// keys, pending to-device messages and remembered to-device txn IDs,
	// and records a DeviceListKeys change (a device went away).
	DeleteDeviceKeys(ctx context.Context, userID, deviceID string) (pos int64, err error)

	// AddOneTimeKeys stores one-time keys. A key ID already stored with
	// the same JSON is skipped; with a different JSON it is ErrConflict,
	// and nothing is stored.
	AddOneTimeKeys(ctx context.Context, userID, deviceID string, keys []OneTimeKey) error
	// OneTimeKeyCounts counts a device's unclaimed one-time keys by algorithm.
	OneTimeKeyCounts(ctx context.Context, userID, deviceID string) (map[string]int, error)
	// SetFallbackKeys replaces the device's fallback key of each
	// algorithm given; the new keys are unused.
	SetFallbackKeys(ctx context.Context, userID, deviceID string, keys []OneTimeKey) error
	// UnusedFallbackKeyTypes lists the algorithms whose fallback key has
	// not been claimed since it was uploaded.
	UnusedFallbackKeyTypes(ctx context.Context, userID, deviceID string) ([]string, error)
	// ClaimKeys takes one one-time key for each claim, each handed out
	// exactly once even to concurrent callers, or else the device's
	// fallback key of that algorithm (marked used, but kept). Claims that
	// find neither are left out of the result.
	ClaimKeys(ctx context.Context, claims []KeyClaim) ([]ClaimedKey, error)

	// SetCrossSigningKeys stores the user's cross-signing keys by type
	// (master, self_signing, user_signing), replacing those of the same
	// types, and records a DeviceListKeys change. A new master key drops
	// the signatures made by or of the old keys.
	SetCrossSigningKeys(ctx context.Context, userID string, keys map[string][]byte) (pos int64, err error)
	// CrossSigningKeys returns the users' cross-signing keys by user and type.
	CrossSigningKeys(ctx context.Context, userIDs []string) (map[string]map[string][]byte, error)
	// AddKeySignatures stores signatures (replacing equal keys) and records
	// a DeviceListKeys change for each target user.
	AddKeySignatures(ctx context.Context, sigs []KeySignature) (pos int64, err error)
	// KeySignatures returns the stored signatures of the users' keys.
	KeySignatures(ctx context.Context, targetUserIDs []string) ([]KeySignature, error)

	// AddDeviceListChange records a change on the device list stream.
	AddDeviceListChange(ctx context.Context, userID, roomID, kind string) (int64, error)
	// DeviceListChanges returns up to limit changes in (from, upTo], in
	// stream order.
	DeviceListChanges(ctx context.Context, from, upTo int64, limit int) ([]DeviceListChange, error)
	// DeviceListPosition is the device list stream's position.
	DeviceListPosition(ctx context.Context) (int64, error)

	// SendToDevice queues messages for devices, once per sending device
	// and txnID: a repeated txnID stores nothing and reports duplicate.
	// Transaction IDs older than txnExpiry (Unix ms) are forgotten.
	SendToDevice(ctx context.Context, senderUserID, senderDeviceID, txnID string, nowMs, txnExpiryMs int64, msgs []ToDeviceMessage) (pos int64, duplicate bool, err error)
	// ToDeviceMessages returns up to limit of the device's messages at
	// positions in (after, upTo], in order.
	ToDeviceMessages(ctx context.Context, userID, deviceID string, after, upTo int64, limit int) ([]ToDeviceMessage, error)
	// DeleteToDeviceMessages removes the device's messages up to upTo,
	// which its sync acknowledged.
	DeleteToDeviceMessages(ctx context.Context, userID, deviceID string, upTo int64) error
	// ToDevicePosition is the to-device stream's position.
	ToDevicePosition(ctx context.Context) (int64, error)

	// CreateBackupVersion makes a new, current backup version.
	CreateBackupVersion(ctx context.Context, userID, algorithm string, authData []byte) (string, error)
	// GetBackupVersion returns a version, the current one if version is
	// ""; ErrNotFound if it does not exist or was deleted.
	GetBackupVersion(ctx context.Context, userID, version string) (BackupVersion, error)
	// UpdateBackupVersion replaces a version's auth data; ErrNotFound.
	UpdateBackupVersion(ctx context.Context, userID, version string, authData []byte) error
	// DeleteBackupVersion deletes a version and its keys. Deleting a
	// deleted version again is not an error; ErrNotFound if it never was.
	DeleteBackupVersion(ctx context.Context, userID, version string) error
	// PutBackupKeys stores keys in the current version, keeping a stored
	// session over a new one where the spec's rules prefer it (see
	// BetterBackupKey). ErrNotFound if the user has no backup,
	// ErrWrongBackupVersion if version is not the current one. It returns the
	// version's etag and key count after the write.
	PutBackupKeys(ctx context.Context, userID, version string, keys []BackupKey) (etag string, count int64, err error)
	// BackupKeys reads a version's keys, of one room ("" for all) and one
	// session ("" for all); ErrNotFound if the version does not exist.
	BackupKeys(ctx context.Context, userID, version, roomID, sessionID string) ([]BackupKey, error)
	// DeleteBackupKeys deletes keys as BackupKeys selects them and
	// returns the etag and count after.
	DeleteBackupKeys(ctx context.Context, userID, version, roomID, sessionID string) (etag string, count int64, err error)
}

// BetterBackupKey reports whether a new backed-up session should replace
// the stored one (key_backup.yaml): a verified key beats an unverified
// one; then the lower first_message_index wins; then the lower
// forwarded_count.
func BetterBackupKey(stored, incoming BackupKey) bool {
	if stored.IsVerified != incoming.IsVerified {
		return incoming.IsVerified
	}
	if stored.FirstMessageIndex != incoming.FirstMessageIndex {
		return incoming.FirstMessageIndex < stored.FirstMessageIndex
	}
	return incoming.ForwardedCount < stored.ForwardedCount
}
