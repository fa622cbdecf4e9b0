package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strconv"

	"github.com/warbler-im/warbler/storage"
)

const (
	qMaxBackupVersion = `SELECT COALESCE(MAX(version), 0) FROM e2ee_backup_versions WHERE user_id = $1`
	qCurrentBackup    = `SELECT version FROM e2ee_backup_versions WHERE user_id = $1 AND deleted = 0
		ORDER BY version DESC LIMIT 1`
	qInsertBackup = `INSERT INTO e2ee_backup_versions (user_id, version, algorithm, auth_data) VALUES ($1, $2, $3, $4)`
	qBackup       = `SELECT algorithm, auth_data, etag FROM e2ee_backup_versions
		WHERE user_id = $1 AND version = $2 AND deleted = 0`
	qUpdateBackup  = `UPDATE e2ee_backup_versions SET auth_data = $3 WHERE user_id = $1 AND version = $2 AND deleted = 0`
	qDeleteBackup  = `UPDATE e2ee_backup_versions SET deleted = 1 WHERE user_id = $1 AND version = $2 AND deleted = 0`
	qBackupExisted = `SELECT 1 FROM e2ee_backup_versions WHERE user_id = $1 AND version = $2`
	qBumpETag      = `UPDATE e2ee_backup_versions SET etag = etag + 1 WHERE user_id = $1 AND version = $2`
	qCountKeys     = `SELECT COUNT(*) FROM e2ee_backup_keys WHERE user_id = $1 AND version = $2`
	qBackupKey     = `SELECT first_message_index, forwarded_count, is_verified FROM e2ee_backup_keys
		WHERE user_id = $1 AND version = $2 AND room_id = $3 AND session_id = $4`
	qUpsertBackupKey = `INSERT INTO e2ee_backup_keys (user_id, version, room_id, session_id,
		first_message_index, forwarded_count, is_verified, session_data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (user_id, version, room_id, session_id) DO UPDATE SET
		first_message_index = excluded.first_message_index, forwarded_count = excluded.forwarded_count,
		is_verified = excluded.is_verified, session_data = excluded.session_data`
	// $3 and $4 are "" for "every room" and "every session".
	qBackupKeys = `SELECT room_id, session_id, first_message_index, forwarded_count, is_verified, session_data
		FROM e2ee_backup_keys WHERE user_id = $1 AND version = $2 AND ($3 = '' OR room_id = $3)
		AND ($4 = '' OR session_id = $4) ORDER BY room_id, session_id`
	qDeleteBackupKeys = `DELETE FROM e2ee_backup_keys WHERE user_id = $1 AND version = $2
		AND ($3 = '' OR room_id = $3) AND ($4 = '' OR session_id = $4)`
	qDeleteAllBackupKeys = `DELETE FROM e2ee_backup_keys WHERE user_id = $1 AND version = $2`
)

// parseVersion reads a version string; anything not a positive number
// names no version.
func parseVersion(v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 || strconv.FormatInt(n, 10) != v {
		return 0, storage.ErrNotFound
	}
	return n, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// CreateBackupVersion implements storage.E2EEStore.
func (db *DB) CreateBackupVersion(ctx context.Context, userID, algorithm string, authData []byte) (string, error) {
	var version int64
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, db.q(qMaxBackupVersion), userID).Scan(&version); err != nil {
			return err
		}
		version++
		_, err := tx.ExecContext(ctx, db.q(qInsertBackup), userID, version, algorithm, string(authData))
		return err
	})
	return strconv.FormatInt(version, 10), err
}

// GetBackupVersion implements storage.E2EEStore.
func (db *DB) GetBackupVersion(ctx context.Context, userID, version string) (storage.BackupVersion, error) {
	var out storage.BackupVersion
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		n, err := db.resolveVersion(ctx, tx, userID, version)
		if err != nil {
			return err
		}
		var authData string
		var etag int64
		if err := tx.QueryRowContext(ctx, db.q(qBackup), userID, n).Scan(&out.Algorithm, &authData, &etag); err != nil {
			return notFound(err)
		}
		out.Version, out.AuthData, out.ETag = strconv.FormatInt(n, 10), []byte(authData), strconv.FormatInt(etag, 10)
		return tx.QueryRowContext(ctx, db.q(qCountKeys), userID, n).Scan(&out.Count)
	})
	return out, err
}

// resolveVersion parses version, or finds the current one if it is "".
func (db *DB) resolveVersion(ctx context.Context, tx *sql.Tx, userID, version string) (int64, error) {
	if version != "" {
		return parseVersion(version)
	}
	var n int64
	err := tx.QueryRowContext(ctx, db.q(qCurrentBackup), userID).Scan(&n)
	return n, notFound(err)
}

// UpdateBackupVersion implements storage.E2EEStore.
func (db *DB) UpdateBackupVersion(ctx context.Context, userID, version string, authData []byte) error {
	n, err := parseVersion(version)
	if err != nil {
		return err
	}
	return execOne(ctx, db.writer, db.q(qUpdateBackup), userID, n, string(authData))
}

// DeleteBackupVersion implements storage.E2EEStore.
func (db *DB) DeleteBackupVersion(ctx context.Context, userID, version string) error {
	n, err := parseVersion(version)
	if err != nil {
		return err
	}
	return db.writeTx(ctx, func(tx *sql.Tx) error {
		err := execOne(ctx, tx, db.q(qDeleteBackup), userID, n)
		if errors.Is(err, storage.ErrNotFound) {
			// Deleted before is fine; never created is not.
			var one int
			return notFound(tx.QueryRowContext(ctx, db.q(qBackupExisted), userID, n).Scan(&one))
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, db.q(qDeleteAllBackupKeys), userID, n)
		return err
	})
}

// writableVersion checks that version is the current one: ErrNotFound
// if the user has no backup, ErrWrongBackupVersion if it is another.
func (db *DB) writableVersion(ctx context.Context, tx *sql.Tx, userID, version string) (int64, error) {
	current, err := db.resolveVersion(ctx, tx, userID, "")
	if err != nil {
		return 0, err
	}
	if n, err := parseVersion(version); err != nil || n != current {
		return 0, storage.ErrWrongBackupVersion
	}
	return current, nil
}

// PutBackupKeys implements storage.E2EEStore.
func (db *DB) PutBackupKeys(ctx context.Context, userID, version string, keys []storage.BackupKey) (string, int64, error) {
	var etag string
	var count int64
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		n, err := db.writableVersion(ctx, tx, userID, version)
		if err != nil {
			return err
		}
		changed := false
		for _, k := range keys {
			wrote, err := db.putBackupKey(ctx, tx, userID, n, k)
			if err != nil {
				return err
			}
			changed = changed || wrote
		}
		etag, count, err = db.afterKeyWrite(ctx, tx, userID, n, changed)
		return err
	})
	return etag, count, err
}

// putBackupKey stores k unless the stored session is better.
func (db *DB) putBackupKey(ctx context.Context, tx *sql.Tx, userID string, version int64, k storage.BackupKey) (bool, error) {
	var stored storage.BackupKey
	var verified int
	err := tx.QueryRowContext(ctx, db.q(qBackupKey), userID, version, k.RoomID, k.SessionID).
		Scan(&stored.FirstMessageIndex, &stored.ForwardedCount, &verified)
	stored.IsVerified = verified != 0
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return false, err
	case !storage.BetterBackupKey(stored, k):
		return false, nil
	}
	_, err = tx.ExecContext(ctx, db.q(qUpsertBackupKey), userID, version, k.RoomID, k.SessionID,
		k.FirstMessageIndex, k.ForwardedCount, boolInt(k.IsVerified), string(k.SessionData))
	return err == nil, err
}

// afterKeyWrite moves the etag on if the keys changed and reads etag and count.
func (db *DB) afterKeyWrite(ctx context.Context, tx *sql.Tx, userID string, version int64, changed bool) (string, int64, error) {
	if changed {
		if _, err := tx.ExecContext(ctx, db.q(qBumpETag), userID, version); err != nil {
			return "", 0, err
		}
	}
	var alg, auth string
	var etag, count int64
	if err := tx.QueryRowContext(ctx, db.q(qBackup), userID, version).Scan(&alg, &auth, &etag); err != nil {
		return "", 0, err
	}
	if err := tx.QueryRowContext(ctx, db.q(qCountKeys), userID, version).Scan(&count); err != nil {
		return "", 0, err
	}
	return strconv.FormatInt(etag, 10), count, nil
}

// BackupKeys implements storage.E2EEStore.
func (db *DB) BackupKeys(ctx context.Context, userID, version, roomID, sessionID string) ([]storage.BackupKey, error) {
	var out []storage.BackupKey
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		n, err := parseVersion(version)
		if err != nil {
			return err
		}
		var alg, auth string
		var etag int64
		if err := tx.QueryRowContext(ctx, db.q(qBackup), userID, n).Scan(&alg, &auth, &etag); err != nil {
			return notFound(err)
		}
		rows, err := tx.QueryContext(ctx, db.q(qBackupKeys), userID, n, roomID, sessionID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k storage.BackupKey
			var verified int
			var data string
			if err := rows.Scan(&k.RoomID, &k.SessionID, &k.FirstMessageIndex, &k.ForwardedCount, &verified, &data); err != nil {
				return err
			}
			k.IsVerified, k.SessionData = verified != 0, []byte(data)
			out = append(out, k)
		}
		return rows.Err()
	})
	return out, err
}

// DeleteBackupKeys implements storage.E2EEStore.
func (db *DB) DeleteBackupKeys(ctx context.Context, userID, version, roomID, sessionID string) (string, int64, error) {
	var etag string
	var count int64
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		n, err := parseVersion(version)
		if err != nil {
			return err
		}
		var alg, auth string
		var e int64
		if err := tx.QueryRowContext(ctx, db.q(qBackup), userID, n).Scan(&alg, &auth, &e); err != nil {
			return notFound(err)
		}
		res, err := tx.ExecContext(ctx, db.q(qDeleteBackupKeys), userID, n, roomID, sessionID)
		if err != nil {
			return err
		}
		deleted, err := res.RowsAffected()
		if err != nil {
			return err
		}
		etag, count, err = db.afterKeyWrite(ctx, tx, userID, n, deleted > 0)
		return err
	})
	return etag, count, err
}
