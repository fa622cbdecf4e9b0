package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/warbler-im/warbler/storage"
)

const (
	qCreateDevice = `INSERT INTO devices (user_nid, device_id, display_name, created_ts, last_seen_ts, last_seen_ip)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT DO NOTHING`
	qSelectDevices = `SELECT u.user_id, d.device_id, d.display_name, d.created_ts, d.last_seen_ts, d.last_seen_ip
		FROM devices d JOIN users u ON u.user_nid = d.user_nid`
	qGetDevice   = qSelectDevices + ` WHERE u.user_id = $1 AND d.device_id = $2`
	qListDevices = qSelectDevices + ` WHERE u.user_id = $1 ORDER BY d.device_id`
	qDeviceNID   = `SELECT d.device_nid FROM devices d JOIN users u ON u.user_nid = d.user_nid
		WHERE u.user_id = $1 AND d.device_id = $2`

	// whereUserDevice picks one device by its string IDs, for updates.
	whereUserDevice       = ` WHERE device_id = $2 AND user_nid = (SELECT user_nid FROM users WHERE user_id = $1)`
	qSetDeviceDisplayName = `UPDATE devices SET display_name = $3` + whereUserDevice
	qTouchDevice          = `UPDATE devices SET last_seen_ts = $3, last_seen_ip = $4` + whereUserDevice

	qDeleteDeviceTokens = `DELETE FROM access_tokens WHERE device_nid = $1`
	qDeleteDevice       = `DELETE FROM devices WHERE device_nid = $1`
)

// errEmptyDeviceID guards the "" that DeleteUserAccessTokens uses to mean
// "no device".
var errEmptyDeviceID = errors.New("storage: device ID must not be empty")

// CreateDevice implements storage.DeviceStore.
func (db *DB) CreateDevice(ctx context.Context, d storage.Device) error {
	if d.DeviceID == "" {
		return errEmptyDeviceID
	}
	return db.writeTx(ctx, func(tx *sql.Tx) error {
		userNID, err := db.userNID(ctx, tx, d.UserID)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, db.q(qCreateDevice),
			userNID, d.DeviceID, d.DisplayName, d.CreatedTS, d.LastSeenTS, d.LastSeenIP)
		if err != nil {
			return err
		}
		return ifNoRows(res, storage.ErrConflict)
	})
}

// GetDevice implements storage.DeviceStore.
func (db *DB) GetDevice(ctx context.Context, userID, deviceID string) (storage.Device, error) {
	d, err := scanDevice(db.hot.getDevice.QueryRowContext(ctx, userID, deviceID))
	return d, notFound(err)
}

// ListDevices implements storage.DeviceStore.
func (db *DB) ListDevices(ctx context.Context, userID string) ([]storage.Device, error) {
	rows, err := db.reader.QueryContext(ctx, db.q(qListDevices), userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	devices := []storage.Device{}
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return nil, err
		}
		devices = append(devices, d)
	}
	return devices, rows.Err()
}

// SetDeviceDisplayName implements storage.DeviceStore.
func (db *DB) SetDeviceDisplayName(ctx context.Context, userID, deviceID, displayName string) error {
	return execOne(ctx, db.writer, db.q(qSetDeviceDisplayName), userID, deviceID, displayName)
}

// TouchDevice implements storage.DeviceStore.
func (db *DB) TouchDevice(ctx context.Context, userID, deviceID string, ts int64, ip string) error {
	res, err := db.hot.touchDevice.ExecContext(ctx, userID, deviceID, ts, ip)
	if err != nil {
		return err
	}
	return ifNoRows(res, storage.ErrNotFound)
}

// DeleteDevice implements storage.DeviceStore.
func (db *DB) DeleteDevice(ctx context.Context, userID, deviceID string) error {
	return db.tokenWriteTx(ctx, func(tx *sql.Tx) error {
		return db.deleteDevice(ctx, tx, userID, deviceID)
	})
}

// DeleteDevices implements storage.DeviceStore.
func (db *DB) DeleteDevices(ctx context.Context, userID string, deviceIDs []string) error {
	return db.tokenWriteTx(ctx, func(tx *sql.Tx) error {
		for _, deviceID := range deviceIDs {
			err := db.deleteDevice(ctx, tx, userID, deviceID)
			if err != nil && !errors.Is(err, storage.ErrNotFound) {
				return err
			}
		}
		return nil
	})
}

// deleteDevice removes a device's tokens, then the device, inside tx.
func (db *DB) deleteDevice(ctx context.Context, tx *sql.Tx, userID, deviceID string) error {
	deviceNID, err := db.deviceNID(ctx, tx, userID, deviceID)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, db.q(qDeleteDeviceTokens), deviceNID); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, db.q(qDeleteDevice), deviceNID)
	return err
}

// deviceNID resolves a device to its numeric key inside tx.
func (db *DB) deviceNID(ctx context.Context, tx *sql.Tx, userID, deviceID string) (int64, error) {
	var nid int64
	err := tx.QueryRowContext(ctx, db.q(qDeviceNID), userID, deviceID).Scan(&nid)
	return nid, notFound(err)
}

// rowScanner is what *sql.Row and *sql.Rows share.
type rowScanner interface {
	Scan(dest ...any) error
}

func scanDevice(row rowScanner) (storage.Device, error) {
	var d storage.Device
	err := row.Scan(&d.UserID, &d.DeviceID, &d.DisplayName, &d.CreatedTS, &d.LastSeenTS, &d.LastSeenIP)
	return d, err
}
