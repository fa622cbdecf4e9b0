package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/warbler-im/warbler/storage"
)

const (
	qRemoteListState  = `SELECT stream_id, stale FROM e2ee_remote_device_lists WHERE user_id = $1`
	qUpsertRemoteList = `INSERT INTO e2ee_remote_device_lists (user_id, stream_id, stale) VALUES ($1, $2, 0)
		ON CONFLICT (user_id) DO UPDATE SET stream_id = excluded.stream_id, stale = 0`
	qSetRemoteStreamID  = `UPDATE e2ee_remote_device_lists SET stream_id = $2 WHERE user_id = $1`
	qMarkRemoteStale    = `UPDATE e2ee_remote_device_lists SET stale = 1 WHERE user_id = $1`
	qDelRemoteList      = `DELETE FROM e2ee_remote_device_lists WHERE user_id = $1`
	qRemoteDevices      = `SELECT device_id, display_name, key_json FROM e2ee_remote_devices WHERE user_id = $1 ORDER BY device_id`
	qDelRemoteDevices   = `DELETE FROM e2ee_remote_devices WHERE user_id = $1`
	qDelRemoteDevice    = `DELETE FROM e2ee_remote_devices WHERE user_id = $1 AND device_id = $2`
	qUpsertRemoteDevice = `INSERT INTO e2ee_remote_devices (user_id, device_id, display_name, key_json) VALUES ($1, $2, $3, $4)
		ON CONFLICT (user_id, device_id) DO UPDATE SET display_name = excluded.display_name, key_json = excluded.key_json`
	qRemoteCrossSigning       = `SELECT key_type, key_json FROM e2ee_remote_cross_signing_keys WHERE user_id = $1`
	qDelRemoteCrossSigning    = `DELETE FROM e2ee_remote_cross_signing_keys WHERE user_id = $1`
	qUpsertRemoteCrossSigning = `INSERT INTO e2ee_remote_cross_signing_keys (user_id, key_type, key_json) VALUES ($1, $2, $3)
		ON CONFLICT (user_id, key_type) DO UPDATE SET key_json = excluded.key_json`
	qLocalListID       = `SELECT stream_id FROM e2ee_local_device_list_ids WHERE user_id = $1`
	qUpsertLocalListID = `INSERT INTO e2ee_local_device_list_ids (user_id, stream_id) VALUES ($1, $2)
		ON CONFLICT (user_id) DO UPDATE SET stream_id = excluded.stream_id`
)

// RemoteDeviceLists implements storage.RemoteDeviceStore.
func (db *DB) RemoteDeviceLists(ctx context.Context, userIDs []string) (map[string]storage.RemoteDeviceList, error) {
	out := map[string]storage.RemoteDeviceList{}
	for _, u := range userIDs {
		list, ok, err := db.remoteDeviceList(ctx, u)
		if err != nil {
			return nil, err
		}
		if ok {
			out[u] = list
		}
	}
	return out, nil
}

func (db *DB) remoteDeviceList(ctx context.Context, userID string) (storage.RemoteDeviceList, bool, error) {
	list := storage.RemoteDeviceList{UserID: userID}
	var stale int64
	err := db.reader.QueryRowContext(ctx, db.q(qRemoteListState), userID).Scan(&list.StreamID, &stale)
	if errors.Is(err, sql.ErrNoRows) {
		return list, false, nil
	}
	if err != nil {
		return list, false, err
	}
	list.Stale = stale != 0
	rows, err := db.reader.QueryContext(ctx, db.q(qRemoteDevices), userID)
	if err != nil {
		return list, false, err
	}
	defer rows.Close()
	for rows.Next() {
		var d storage.RemoteDevice
		var js string
		if err := rows.Scan(&d.DeviceID, &d.DisplayName, &js); err != nil {
			return list, false, err
		}
		if js != "" {
			d.KeyJSON = []byte(js)
		}
		list.Devices = append(list.Devices, d)
	}
	if err := rows.Err(); err != nil {
		return list, false, err
	}
	crossRows, err := db.reader.QueryContext(ctx, db.q(qRemoteCrossSigning), userID)
	if err != nil {
		return list, false, err
	}
	list.CrossSigning = map[string][]byte{}
	err = scanKeyRows(crossRows, func(name string, js []byte) { list.CrossSigning[name] = js })
	return list, true, err
}

// ReplaceRemoteDeviceList implements storage.RemoteDeviceStore.
func (db *DB) ReplaceRemoteDeviceList(ctx context.Context, list storage.RemoteDeviceList) (int64, error) {
	var pos int64
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, db.q(qUpsertRemoteList), list.UserID, list.StreamID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q(qDelRemoteDevices), list.UserID); err != nil {
			return err
		}
		for _, d := range list.Devices {
			if _, err := tx.ExecContext(ctx, db.q(qUpsertRemoteDevice), list.UserID, d.DeviceID, d.DisplayName, string(d.KeyJSON)); err != nil {
				return err
			}
		}
		if list.CrossSigning != nil {
			if _, err := tx.ExecContext(ctx, db.q(qDelRemoteCrossSigning), list.UserID); err != nil {
				return err
			}
			if err := db.putRemoteCrossSigning(ctx, tx, list.UserID, list.CrossSigning); err != nil {
				return err
			}
		}
		var err error
		pos, err = db.addListChanges(ctx, tx, []string{list.UserID}, "", storage.DeviceListKeys)
		return err
	})
	return pos, err
}

func (db *DB) putRemoteCrossSigning(ctx context.Context, tx *sql.Tx, userID string, keys map[string][]byte) error {
	for typ, js := range keys {
		if _, err := tx.ExecContext(ctx, db.q(qUpsertRemoteCrossSigning), userID, typ, string(js)); err != nil {
			return err
		}
	}
	return nil
}

// trackedTx fails with ErrNotFound unless userID's list is tracked.
func (db *DB) trackedTx(ctx context.Context, tx *sql.Tx, userID string) error {
	var streamID, stale int64
	err := tx.QueryRowContext(ctx, db.q(qRemoteListState), userID).Scan(&streamID, &stale)
	if errors.Is(err, sql.ErrNoRows) {
		return storage.ErrNotFound
	}
	return err
}

// UpdateRemoteDevice implements storage.RemoteDeviceStore.
func (db *DB) UpdateRemoteDevice(ctx context.Context, userID string, streamID int64, d storage.RemoteDevice, deleted bool) (int64, error) {
	var pos int64
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		if err := db.trackedTx(ctx, tx, userID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q(qSetRemoteStreamID), userID, streamID); err != nil {
			return err
		}
		var err error
		if deleted {
			_, err = tx.ExecContext(ctx, db.q(qDelRemoteDevice), userID, d.DeviceID)
		} else {
			_, err = tx.ExecContext(ctx, db.q(qUpsertRemoteDevice), userID, d.DeviceID, d.DisplayName, string(d.KeyJSON))
		}
		if err != nil {
			return err
		}
		pos, err = db.addListChanges(ctx, tx, []string{userID}, "", storage.DeviceListKeys)
		return err
	})
	return pos, err
}

// SetRemoteCrossSigningKeys implements storage.RemoteDeviceStore.
func (db *DB) SetRemoteCrossSigningKeys(ctx context.Context, userID string, keys map[string][]byte) (int64, error) {
	var pos int64
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		if err := db.trackedTx(ctx, tx, userID); err != nil {
			return err
		}
		if err := db.putRemoteCrossSigning(ctx, tx, userID, keys); err != nil {
			return err
		}
		var err error
		pos, err = db.addListChanges(ctx, tx, []string{userID}, "", storage.DeviceListKeys)
		return err
	})
	return pos, err
}

// MarkRemoteDeviceListStale implements storage.RemoteDeviceStore.
func (db *DB) MarkRemoteDeviceListStale(ctx context.Context, userID string) error {
	_, err := db.writer.ExecContext(ctx, db.q(qMarkRemoteStale), userID)
	return err
}

// UntrackRemoteUser implements storage.RemoteDeviceStore.
func (db *DB) UntrackRemoteUser(ctx context.Context, userID string) error {
	return db.writeTx(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{qDelRemoteList, qDelRemoteDevices, qDelRemoteCrossSigning} {
			if _, err := tx.ExecContext(ctx, db.q(q), userID); err != nil {
				return err
			}
		}
		return nil
	})
}

// SwapLocalDeviceListID implements storage.RemoteDeviceStore.
func (db *DB) SwapLocalDeviceListID(ctx context.Context, userID string, streamID int64) (int64, error) {
	var prev int64
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, db.q(qLocalListID), userID).Scan(&prev)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if streamID <= prev {
			return nil
		}
		_, err = tx.ExecContext(ctx, db.q(qUpsertLocalListID), userID, streamID)
		return err
	})
	return prev, err
}

// LocalDeviceListID implements storage.RemoteDeviceStore.
func (db *DB) LocalDeviceListID(ctx context.Context, userID string) (int64, error) {
	var id int64
	err := db.reader.QueryRowContext(ctx, db.q(qLocalListID), userID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return id, err
}
