package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/warbler-im/warbler/storage"
)

// Refresh token rotation follows the client-server spec: after a refresh,
// the old refresh token remains valid until the new access token or the new
// refresh token is used, so a client that lost the response can repeat the
// refresh. refresh_token_successors links each refreshed row to the row
// that replaced it until that happens.
const (
	qLookupRefreshToken = `SELECT t.token_hash, u.user_id, d.device_id, t.created_ts, t.expires_ts, t.refresh_token_hash
		FROM access_tokens t
		JOIN devices d ON d.device_nid = t.device_nid
		JOIN users u ON u.user_nid = d.user_nid
		WHERE t.refresh_token_hash = $1`
	qRefreshRow = `SELECT token_nid, device_nid FROM access_tokens WHERE refresh_token_hash = $1`
	// qDropPredecessor revokes the row that $1 replaced: $1 is now in use.
	qDropPredecessor = `DELETE FROM access_tokens WHERE token_nid IN (
		SELECT old_token_nid FROM refresh_token_successors WHERE new_token_nid = $1)`
	// qDropSuccessor removes a replacement for $1 that was never used: the
	// client is refreshing $1 again, so it never got that replacement.
	qDropSuccessor = `DELETE FROM access_tokens WHERE token_nid IN (
		SELECT new_token_nid FROM refresh_token_successors WHERE old_token_nid = $1)`
	qInsertRefreshed = `INSERT INTO access_tokens (token_hash, device_nid, created_ts, expires_ts, refresh_token_hash)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT DO NOTHING
		RETURNING token_nid`
	qExpireAccessToken = `UPDATE access_tokens SET expires_ts = $2
		WHERE token_nid = $1 AND (expires_ts = 0 OR expires_ts > $2)`
	qLinkSuccessor  = `INSERT INTO refresh_token_successors (old_token_nid, new_token_nid) VALUES ($1, $2)`
	qPredecessorNID = `SELECT s.old_token_nid FROM refresh_token_successors s
		JOIN access_tokens t ON t.token_nid = s.new_token_nid
		WHERE t.token_hash = $1`
	qDeleteTokenNID = `DELETE FROM access_tokens WHERE token_nid = $1`
)

var errEmptyRefreshHash = errors.New("storage: refresh token hash must not be empty")

// LookupRefreshToken implements storage.AccountStore.
func (db *DB) LookupRefreshToken(ctx context.Context, refreshHash []byte) (storage.AccessToken, error) {
	if len(refreshHash) == 0 {
		return storage.AccessToken{}, storage.ErrNotFound
	}
	var t storage.AccessToken
	err := db.reader.QueryRowContext(ctx, db.q(qLookupRefreshToken), refreshHash).
		Scan(&t.TokenHash, &t.UserID, &t.DeviceID, &t.CreatedTS, &t.ExpiresTS, &t.RefreshTokenHash)
	if err != nil {
		return storage.AccessToken{}, notFound(err)
	}
	return t, nil
}

// RotateRefreshToken implements storage.AccountStore.
func (db *DB) RotateRefreshToken(ctx context.Context, refreshHash []byte, next storage.AccessToken, nowTS int64) error {
	if len(next.TokenHash) == 0 {
		return errEmptyTokenHash
	}
	if len(refreshHash) == 0 || len(next.RefreshTokenHash) == 0 {
		return errEmptyRefreshHash
	}
	return db.tokenWriteTx(ctx, func(tx *sql.Tx) error {
		var oldNID, deviceNID int64
		err := tx.QueryRowContext(ctx, db.q(qRefreshRow), refreshHash).Scan(&oldNID, &deviceNID)
		if err != nil {
			return notFound(err)
		}
		for _, query := range []string{qDropPredecessor, qDropSuccessor} {
			if _, err := tx.ExecContext(ctx, db.q(query), oldNID); err != nil {
				return err
			}
		}
		var newNID int64
		err = tx.QueryRowContext(ctx, db.q(qInsertRefreshed),
			next.TokenHash, deviceNID, next.CreatedTS, next.ExpiresTS, next.RefreshTokenHash).Scan(&newNID)
		if errors.Is(err, sql.ErrNoRows) {
			return storage.ErrConflict
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q(qExpireAccessToken), oldNID, nowTS); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, db.q(qLinkSuccessor), oldNID, newNID)
		return err
	})
}

// ConfirmRefreshedToken implements storage.AccountStore. It reads before
// it writes so that the common case, a token with no predecessor, costs no
// write.
func (db *DB) ConfirmRefreshedToken(ctx context.Context, tokenHash []byte) error {
	var oldNID int64
	err := db.reader.QueryRowContext(ctx, db.q(qPredecessorNID), tokenHash).Scan(&oldNID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	return db.tokens.writeAll(func() error {
		_, err := db.writer.ExecContext(ctx, db.q(qDeleteTokenNID), oldNID)
		return err
	})
}
