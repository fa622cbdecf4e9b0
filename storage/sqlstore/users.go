package sqlstore

import (
	"context"
	"database/sql"

	"github.com/warbler-im/warbler/storage"
)

const (
	qCreateUser = `INSERT INTO users (user_id, password_hash, is_admin, is_guest, deactivated, created_ts)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT DO NOTHING`
	qGetUser = `SELECT user_id, password_hash, is_admin, is_guest, deactivated, locked, suspended, created_ts
		FROM users WHERE user_id = $1`
	qUserNID         = `SELECT user_nid FROM users WHERE user_id = $1`
	qSetPasswordHash = `UPDATE users SET password_hash = $2 WHERE user_id = $1`
	qSetAdmin        = `UPDATE users SET is_admin = $2 WHERE user_id = $1`
	qDeactivateUser  = `UPDATE users SET deactivated = TRUE, password_hash = '' WHERE user_nid = $1`
	qCountUsers      = `SELECT COUNT(*) FROM users`

	qDeleteUserTokens = `DELETE FROM access_tokens
		WHERE device_nid IN (SELECT device_nid FROM devices WHERE user_nid = $1)`
	qDeleteUserDevices = `DELETE FROM devices WHERE user_nid = $1`
)

// CreateUser implements storage.UserStore.
func (db *DB) CreateUser(ctx context.Context, u storage.User) error {
	res, err := db.writer.ExecContext(ctx, db.q(qCreateUser),
		u.UserID, u.PasswordHash, u.IsAdmin, u.IsGuest, u.Deactivated, u.CreatedTS)
	if err != nil {
		return err
	}
	return ifNoRows(res, storage.ErrConflict)
}

// GetUser implements storage.UserStore.
func (db *DB) GetUser(ctx context.Context, userID string) (storage.User, error) {
	var u storage.User
	err := db.hot.getUser.QueryRowContext(ctx, userID).
		Scan(&u.UserID, &u.PasswordHash, &u.IsAdmin, &u.IsGuest, &u.Deactivated, &u.Locked, &u.Suspended, &u.CreatedTS)
	return u, notFound(err)
}

// SetPasswordHash implements storage.UserStore.
func (db *DB) SetPasswordHash(ctx context.Context, userID, hash string) error {
	return execOne(ctx, db.writer, db.q(qSetPasswordHash), userID, hash)
}

// SetAdmin implements storage.UserStore.
func (db *DB) SetAdmin(ctx context.Context, userID string, isAdmin bool) error {
	return execOne(ctx, db.writer, db.q(qSetAdmin), userID, isAdmin)
}

// DeactivateUser implements storage.UserStore.
func (db *DB) DeactivateUser(ctx context.Context, userID string) error {
	return db.tokenWriteTx(ctx, func(tx *sql.Tx) error {
		userNID, err := db.userNID(ctx, tx, userID)
		if err != nil {
			return err
		}
		for _, query := range []string{qDeactivateUser, qDeleteUserTokens, qDeleteUserDevices} {
			if _, err := tx.ExecContext(ctx, db.q(query), userNID); err != nil {
				return err
			}
		}
		return nil
	})
}

// CountUsers implements storage.UserStore.
func (db *DB) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := db.reader.QueryRowContext(ctx, db.q(qCountUsers)).Scan(&n)
	return n, err
}

// userNID resolves a user ID to its numeric key inside tx.
func (db *DB) userNID(ctx context.Context, tx *sql.Tx, userID string) (int64, error) {
	var nid int64
	err := tx.QueryRowContext(ctx, db.q(qUserNID), userID).Scan(&nid)
	return nid, notFound(err)
}
