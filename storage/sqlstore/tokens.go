package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"

	"github.com/warbler-im/warbler/storage"
)

const (
	qCreateAccessToken = `INSERT INTO access_tokens (token_hash, device_nid, created_ts, expires_ts, refresh_token_hash)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT DO NOTHING`
	qLookupAccessToken = `SELECT u.user_id, d.device_id, t.created_ts, t.expires_ts, t.refresh_token_hash,
		u.locked, u.suspended
		FROM access_tokens t
		JOIN devices d ON d.device_nid = t.device_nid
		JOIN users u ON u.user_nid = d.user_nid
		WHERE t.token_hash = $1`
	qDeleteAccessToken = `DELETE FROM access_tokens WHERE token_hash = $1`
	// The except device ID "" matches no device, since devices cannot have
	// an empty ID.
	qDeleteUserAccessTokens = `DELETE FROM access_tokens WHERE device_nid IN (
		SELECT d.device_nid FROM devices d JOIN users u ON u.user_nid = d.user_nid
		WHERE u.user_id = $1 AND d.device_id <> $2)`
)

var errEmptyTokenHash = errors.New("storage: access token hash must not be empty")

// CreateAccessToken implements storage.TokenStore.
func (db *DB) CreateAccessToken(ctx context.Context, t storage.AccessToken) error {
	if len(t.TokenHash) == 0 {
		return errEmptyTokenHash
	}
	return db.writeTx(ctx, func(tx *sql.Tx) error {
		deviceNID, err := db.deviceNID(ctx, tx, t.UserID, t.DeviceID)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, db.q(qCreateAccessToken),
			t.TokenHash, deviceNID, t.CreatedTS, t.ExpiresTS, nullBytes(t.RefreshTokenHash))
		if err != nil {
			return err
		}
		return ifNoRows(res, storage.ErrConflict)
	})
}

// The access-token cache (db.tokens). LookupAccessToken runs for every
// authenticated request: in warbler bench twice per message (the send and
// a listener's /sync), a query each, on PostgreSQL a round trip each. A
// lookup's answer (token, device, user, expiry, refresh hash, lock and
// suspension) changes only through the writes of this package that delete
// tokens or devices, rotate or confirm refresh tokens, or change a user's
// lock, suspension or deactivation: ChangePassword, StartSession (a login
// ends the device's old tokens), RotateRefreshToken,
// ConfirmRefreshedToken, DeleteDevice, DeleteDevices, SetUserLocked,
// SetUserSuspended, DeleteAccessToken, DeleteUserAccessTokens,
// DeactivateAccount and DeactivateUser. Each runs through
// db.tokens.writeAll: lookups miss while it runs, and the whole cache is
// emptied when it ends. Such writes are rare next to requests, and
// emptying everything spares each of them working out the tokens it
// touched. A new write to access_tokens, devices or the users' locked,
// suspended or deactivated columns must do the same. Only found tokens
// are cached, so a new token is read from the database on first use.

// tokenCacheBytes bounds the cache: ~300 bytes a token, ~14,000 tokens.
const tokenCacheBytes = 4 << 20

// LookupAccessToken implements storage.TokenStore.
func (db *DB) LookupAccessToken(ctx context.Context, tokenHash []byte) (storage.AccessToken, error) {
	if t, ok := db.tokens.get(string(tokenHash)); ok {
		return cloneToken(t), nil
	}
	epoch := db.tokens.begin()
	t := storage.AccessToken{TokenHash: bytes.Clone(tokenHash)}
	err := db.hot.lookupAccessToken.QueryRowContext(ctx, tokenHash).
		Scan(&t.UserID, &t.DeviceID, &t.CreatedTS, &t.ExpiresTS, &t.RefreshTokenHash, &t.UserLocked, &t.UserSuspended)
	if err != nil {
		return storage.AccessToken{}, notFound(err)
	}
	weight := cacheEntryOverhead + 2*len(t.TokenHash) + len(t.UserID) + len(t.DeviceID) + len(t.RefreshTokenHash) + 64
	db.tokens.put(epoch, string(tokenHash), cloneToken(t), weight)
	return t, nil
}

// tokenWriteTx is writeTx for a write that may change access-token
// lookups (see the cache's list above).
func (db *DB) tokenWriteTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return db.tokens.writeAll(func() error { return db.writeTx(ctx, fn) })
}

// cloneToken copies a lookup's answer, byte slices included: the cached
// one is shared.
func cloneToken(t storage.AccessToken) storage.AccessToken {
	t.TokenHash = bytes.Clone(t.TokenHash)
	t.RefreshTokenHash = bytes.Clone(t.RefreshTokenHash)
	return t
}

// DeleteAccessToken implements storage.TokenStore.
func (db *DB) DeleteAccessToken(ctx context.Context, tokenHash []byte) error {
	return db.tokens.writeAll(func() error {
		return execOne(ctx, db.writer, db.q(qDeleteAccessToken), tokenHash)
	})
}

// DeleteUserAccessTokens implements storage.TokenStore.
func (db *DB) DeleteUserAccessTokens(ctx context.Context, userID string, exceptDeviceID string) error {
	return db.tokens.writeAll(func() error {
		_, err := db.writer.ExecContext(ctx, db.q(qDeleteUserAccessTokens), userID, exceptDeviceID)
		return err
	})
}
