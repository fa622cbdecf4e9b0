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

// LookupAccessToken implements storage.TokenStore.
func (db *DB) LookupAccessToken(ctx context.Context, tokenHash []byte) (storage.AccessToken, error) {
	t := storage.AccessToken{TokenHash: bytes.Clone(tokenHash)}
	err := db.hot.lookupAccessToken.QueryRowContext(ctx, tokenHash).
		Scan(&t.UserID, &t.DeviceID, &t.CreatedTS, &t.ExpiresTS, &t.RefreshTokenHash, &t.UserLocked, &t.UserSuspended)
	if err != nil {
		return storage.AccessToken{}, notFound(err)
	}
	return t, nil
}

// DeleteAccessToken implements storage.TokenStore.
func (db *DB) DeleteAccessToken(ctx context.Context, tokenHash []byte) error {
	return execOne(ctx, db.writer, db.q(qDeleteAccessToken), tokenHash)
}

// DeleteUserAccessTokens implements storage.TokenStore.
func (db *DB) DeleteUserAccessTokens(ctx context.Context, userID string, exceptDeviceID string) error {
	_, err := db.writer.ExecContext(ctx, db.q(qDeleteUserAccessTokens), userID, exceptDeviceID)
	return err
}
