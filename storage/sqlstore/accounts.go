package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/warbler-im/warbler/storage"
)

const (
	qCreateProfile = `INSERT INTO profiles (user_nid, displayname, avatar_url) VALUES ($1, $2, $3)`
	// completeTokenUse turns a reserved use into a completed one. A token
	// deleted by an admin since the reservation simply matches no row.
	qCompleteTokenUse = `UPDATE registration_tokens
		SET pending = CASE WHEN pending > 0 THEN pending - 1 ELSE 0 END, completed = completed + 1
		WHERE token = $1`

	qClearProfile = `UPDATE profiles SET displayname = '', avatar_url = '' WHERE user_nid = $1`
	qEraseUser    = `INSERT INTO user_erasures (user_nid, erased_ts) VALUES ($1, $2) ON CONFLICT DO NOTHING`
	qIsUserErased = `SELECT COUNT(*) FROM user_erasures e JOIN users u ON u.user_nid = e.user_nid WHERE u.user_id = $1`

	// The keep device ID "" matches no device, since devices cannot have an
	// empty ID, so every device goes.
	qDeleteOtherDeviceTokens = `DELETE FROM access_tokens WHERE device_nid IN (
		SELECT device_nid FROM devices WHERE user_nid = $1 AND device_id <> $2)`
	qDeleteOtherDevices = `DELETE FROM devices WHERE user_nid = $1 AND device_id <> $2`
	qSetPasswordHashNID = `UPDATE users SET password_hash = $2 WHERE user_nid = $1`
)

// CreateAccount implements storage.AccountStore.
func (db *DB) CreateAccount(ctx context.Context, a storage.NewAccount) error {
	u := a.User
	return db.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(qCreateUser),
			u.UserID, u.PasswordHash, u.IsAdmin, u.IsGuest, u.Deactivated, u.CreatedTS)
		if err != nil {
			return err
		}
		if err := ifNoRows(res, storage.ErrConflict); err != nil {
			return err
		}
		userNID, err := db.userNID(ctx, tx, u.UserID)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q(qCreateProfile), userNID, a.Profile.DisplayName, a.Profile.AvatarURL); err != nil {
			return err
		}
		if a.RegistrationToken == "" {
			return nil
		}
		_, err = tx.ExecContext(ctx, db.q(qCompleteTokenUse), a.RegistrationToken)
		return err
	})
}

// DeactivateAccount implements storage.AccountStore.
func (db *DB) DeactivateAccount(ctx context.Context, userID string, erase bool, ts int64) error {
	return db.tokenWriteTx(ctx, func(tx *sql.Tx) error {
		userNID, err := db.userNID(ctx, tx, userID)
		if err != nil {
			return err
		}
		steps := []string{qDeactivateUser, qDeleteUserTokens, qDeleteUserDevices, qClearProfile}
		for _, query := range steps {
			if _, err := tx.ExecContext(ctx, db.q(query), userNID); err != nil {
				return err
			}
		}
		if !erase {
			return nil
		}
		_, err = tx.ExecContext(ctx, db.q(qEraseUser), userNID, ts)
		return err
	})
}

// IsUserErased implements storage.AccountStore.
func (db *DB) IsUserErased(ctx context.Context, userID string) (bool, error) {
	var n int
	err := db.reader.QueryRowContext(ctx, db.q(qIsUserErased), userID).Scan(&n)
	return n > 0, err
}

// ChangePassword implements storage.AccountStore.
func (db *DB) ChangePassword(ctx context.Context, userID, hash string, logoutOthers bool, keepDeviceID string) error {
	return db.tokenWriteTx(ctx, func(tx *sql.Tx) error {
		userNID, err := db.userNID(ctx, tx, userID)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q(qSetPasswordHashNID), userNID, hash); err != nil {
			return err
		}
		if !logoutOthers {
			return nil
		}
		for _, query := range []string{qDeleteOtherDeviceTokens, qDeleteOtherDevices} {
			if _, err := tx.ExecContext(ctx, db.q(query), userNID, keepDeviceID); err != nil {
				return err
			}
		}
		return nil
	})
}

// StartSession implements storage.AccountStore.
func (db *DB) StartSession(ctx context.Context, d storage.Device, t storage.AccessToken) (bool, error) {
	if d.DeviceID == "" {
		return false, errEmptyDeviceID
	}
	if len(t.TokenHash) == 0 {
		return false, errEmptyTokenHash
	}
	var created bool
	err := db.tokenWriteTx(ctx, func(tx *sql.Tx) error {
		var err error
		created, err = db.ensureDevice(ctx, tx, d)
		if err != nil {
			return err
		}
		deviceNID, err := db.deviceNID(ctx, tx, d.UserID, d.DeviceID)
		if err != nil {
			return err
		}
		// One live token per device: a new login on a device ends the old
		// session's tokens, as the spec allows.
		if _, err := tx.ExecContext(ctx, db.q(qDeleteDeviceTokens), deviceNID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, db.q(qCreateAccessToken),
			t.TokenHash, deviceNID, t.CreatedTS, t.ExpiresTS, nullBytes(t.RefreshTokenHash))
		if err != nil {
			return err
		}
		return ifNoRows(res, storage.ErrConflict)
	})
	return created, err
}

// ensureDevice creates the device unless the user already has it, and
// reports whether it did.
func (db *DB) ensureDevice(ctx context.Context, tx *sql.Tx, d storage.Device) (bool, error) {
	userNID, err := db.userNID(ctx, tx, d.UserID)
	if err != nil {
		return false, err
	}
	res, err := tx.ExecContext(ctx, db.q(qCreateDevice),
		userNID, d.DeviceID, d.DisplayName, d.CreatedTS, d.LastSeenTS, d.LastSeenIP)
	if err != nil {
		return false, err
	}
	err = ifNoRows(res, storage.ErrConflict)
	if errors.Is(err, storage.ErrConflict) {
		return false, nil
	}
	return err == nil, err
}
