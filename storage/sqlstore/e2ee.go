package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/warbler-im/warbler/storage"
)

// Streams of e2ee_stream_positions.
const (
	streamToDevice    = "to_device"
	streamDeviceLists = "device_lists"
)

const (
	qBumpStream       = `UPDATE e2ee_stream_positions SET pos = pos + 1 WHERE stream = $1 RETURNING pos`
	qStreamPosition   = `SELECT pos FROM e2ee_stream_positions WHERE stream = $1`
	qInsertListChange = `INSERT INTO e2ee_device_list_stream (pos, user_id, room_id, kind) VALUES ($1, $2, $3, $4)`
	qListChanges      = `SELECT pos, user_id, room_id, kind FROM e2ee_device_list_stream
		WHERE pos > $1 AND pos <= $2 ORDER BY pos LIMIT $3`

	qDeviceKeys       = `SELECT key_json FROM e2ee_device_keys WHERE user_id = $1 AND device_id = $2`
	qUpsertDeviceKeys = `INSERT INTO e2ee_device_keys (user_id, device_id, key_json) VALUES ($1, $2, $3)
		ON CONFLICT (user_id, device_id) DO UPDATE SET key_json = excluded.key_json`
	qUserDeviceKeys = `SELECT device_id, key_json FROM e2ee_device_keys WHERE user_id = $1`
	qDelDeviceKeys  = `DELETE FROM e2ee_device_keys WHERE user_id = $1 AND device_id = $2`
	qDelDeviceOTKs  = `DELETE FROM e2ee_one_time_keys WHERE user_id = $1 AND device_id = $2`
	qDelDeviceFBKs  = `DELETE FROM e2ee_fallback_keys WHERE user_id = $1 AND device_id = $2`
	qDelDeviceInbox = `DELETE FROM e2ee_to_device WHERE user_id = $1 AND device_id = $2`
	qDelDeviceTxns  = `DELETE FROM e2ee_to_device_txns WHERE user_id = $1 AND device_id = $2`

	qOTK           = `SELECT key_json FROM e2ee_one_time_keys WHERE user_id = $1 AND device_id = $2 AND key_id = $3`
	qNextUploadSeq = `SELECT COALESCE(MAX(upload_seq), 0) + 1 FROM e2ee_one_time_keys WHERE user_id = $1 AND device_id = $2`
	qInsertOTK     = `INSERT INTO e2ee_one_time_keys (user_id, device_id, algorithm, key_id, key_json, upload_seq)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (user_id, device_id, key_id) DO NOTHING`
	qOTKCounts = `SELECT algorithm, COUNT(*) FROM e2ee_one_time_keys
		WHERE user_id = $1 AND device_id = $2 GROUP BY algorithm`
	qUpsertFBK = `INSERT INTO e2ee_fallback_keys (user_id, device_id, algorithm, key_id, key_json, used)
		VALUES ($1, $2, $3, $4, $5, 0) ON CONFLICT (user_id, device_id, algorithm)
		DO UPDATE SET key_id = excluded.key_id, key_json = excluded.key_json, used = 0`
	qUnusedFBKs = `SELECT algorithm FROM e2ee_fallback_keys
		WHERE user_id = $1 AND device_id = $2 AND used = 0 ORDER BY algorithm`
	qFirstOTK = `SELECT key_id, key_json FROM e2ee_one_time_keys
		WHERE user_id = $1 AND device_id = $2 AND algorithm = $3 ORDER BY upload_seq, key_id LIMIT 1`
	qTakeOTK = `DELETE FROM e2ee_one_time_keys WHERE user_id = $1 AND device_id = $2 AND key_id = $3`
	qUseFBK  = `UPDATE e2ee_fallback_keys SET used = 1
		WHERE user_id = $1 AND device_id = $2 AND algorithm = $3 RETURNING key_id, key_json`
)

// bumpStream allocates the next position of a stream inside tx. The row
// lock it takes is held until tx ends, so writers to one stream commit in
// position order.
func bumpStream(ctx context.Context, tx *sql.Tx, db *DB, stream string) (int64, error) {
	var pos int64
	err := tx.QueryRowContext(ctx, db.q(qBumpStream), stream).Scan(&pos)
	return pos, err
}

func (db *DB) streamPosition(ctx context.Context, stream string) (int64, error) {
	var pos int64
	err := db.reader.QueryRowContext(ctx, db.q(qStreamPosition), stream).Scan(&pos)
	return pos, err
}

// addListChanges records changes of kind for users at a new position.
func (db *DB) addListChanges(ctx context.Context, tx *sql.Tx, userIDs []string, roomID, kind string) (int64, error) {
	pos, err := bumpStream(ctx, tx, db, streamDeviceLists)
	if err != nil {
		return 0, err
	}
	for _, u := range userIDs {
		if _, err := tx.ExecContext(ctx, db.q(qInsertListChange), pos, u, roomID, kind); err != nil {
			return 0, err
		}
	}
	return pos, nil
}

// SetDeviceKeys implements storage.E2EEStore.
func (db *DB) SetDeviceKeys(ctx context.Context, userID, deviceID string, keyJSON []byte) (int64, error) {
	var pos int64
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		var old string
		err := tx.QueryRowContext(ctx, db.q(qDeviceKeys), userID, deviceID).Scan(&old)
		if err == nil && old == string(keyJSON) {
			return nil
		}
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q(qUpsertDeviceKeys), userID, deviceID, string(keyJSON)); err != nil {
			return err
		}
		pos, err = db.addListChanges(ctx, tx, []string{userID}, "", storage.DeviceListKeys)
		return err
	})
	return pos, err
}

// DeviceKeys implements storage.E2EEStore.
func (db *DB) DeviceKeys(ctx context.Context, userIDs []string) (map[string]map[string][]byte, error) {
	out := map[string]map[string][]byte{}
	for _, u := range userIDs {
		rows, err := db.reader.QueryContext(ctx, db.q(qUserDeviceKeys), u)
		if err != nil {
			return nil, err
		}
		err = scanKeyRows(rows, func(id string, js []byte) {
			if out[u] == nil {
				out[u] = map[string][]byte{}
			}
			out[u][id] = js
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// scanKeyRows reads (name, json) rows into fn and closes rows.
func scanKeyRows(rows *sql.Rows, fn func(name string, js []byte)) error {
	defer rows.Close()
	for rows.Next() {
		var name, js string
		if err := rows.Scan(&name, &js); err != nil {
			return err
		}
		fn(name, []byte(js))
	}
	return rows.Err()
}

// DeleteDeviceKeys implements storage.E2EEStore.
func (db *DB) DeleteDeviceKeys(ctx context.Context, userID, deviceID string) (int64, error) {
	device := deviceKey{userID, deviceID}
	db.users.oneTimeKeys.startWrite(device)
	db.users.fallbackKeys.startWrite(device)
	defer db.users.fallbackKeys.endWrite(device)
	defer db.users.oneTimeKeys.endWrite(device)
	var pos int64
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{qDelDeviceKeys, qDelDeviceOTKs, qDelDeviceFBKs, qDelDeviceInbox, qDelDeviceTxns} {
			if _, err := tx.ExecContext(ctx, db.q(q), userID, deviceID); err != nil {
				return err
			}
		}
		var err error
		pos, err = db.addListChanges(ctx, tx, []string{userID}, "", storage.DeviceListKeys)
		return err
	})
	return pos, err
}

// keyAlgorithm is the algorithm part of "algorithm:id".
func keyAlgorithm(keyID string) string {
	alg, _, _ := strings.Cut(keyID, ":")
	return alg
}

// AddOneTimeKeys implements storage.E2EEStore.
func (db *DB) AddOneTimeKeys(ctx context.Context, userID, deviceID string, keys []storage.OneTimeKey) error {
	return db.users.oneTimeKeys.write(deviceKey{userID, deviceID}, func() error {
		return db.addOneTimeKeys(ctx, userID, deviceID, keys)
	})
}

func (db *DB) addOneTimeKeys(ctx context.Context, userID, deviceID string, keys []storage.OneTimeKey) error {
	return db.writeTx(ctx, func(tx *sql.Tx) error {
		var seq int64
		if err := tx.QueryRowContext(ctx, db.q(qNextUploadSeq), userID, deviceID).Scan(&seq); err != nil {
			return err
		}
		for _, k := range keys {
			var old string
			err := tx.QueryRowContext(ctx, db.q(qOTK), userID, deviceID, k.KeyID).Scan(&old)
			switch {
			case err == nil && old == string(k.KeyJSON):
				continue
			case err == nil:
				return storage.ErrConflict
			case !errors.Is(err, sql.ErrNoRows):
				return err
			}
			if _, err := tx.ExecContext(ctx, db.q(qInsertOTK), userID, deviceID, keyAlgorithm(k.KeyID), k.KeyID, string(k.KeyJSON), seq); err != nil {
				return err
			}
		}
		return nil
	})
}

// OneTimeKeyCounts implements storage.E2EEStore. Every sync of the
// device asks, so the counts are kept in db.users.oneTimeKeys.
func (db *DB) OneTimeKeyCounts(ctx context.Context, userID, deviceID string) (map[string]int, error) {
	device := deviceKey{userID, deviceID}
	if counts, ok := db.users.oneTimeKeys.get(device); ok {
		return maps.Clone(counts), nil
	}
	epoch := db.users.oneTimeKeys.begin()
	counts, err := db.oneTimeKeyCounts(ctx, userID, deviceID)
	if err != nil {
		return nil, err
	}
	db.users.oneTimeKeys.put(epoch, device, counts, device.countsWeight(counts))
	return maps.Clone(counts), nil
}

func (db *DB) oneTimeKeyCounts(ctx context.Context, userID, deviceID string) (map[string]int, error) {
	rows, err := db.reader.QueryContext(ctx, db.q(qOTKCounts), userID, deviceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var alg string
		var n int
		if err := rows.Scan(&alg, &n); err != nil {
			return nil, err
		}
		out[alg] = n
	}
	return out, rows.Err()
}

// SetFallbackKeys implements storage.E2EEStore.
func (db *DB) SetFallbackKeys(ctx context.Context, userID, deviceID string, keys []storage.OneTimeKey) error {
	return db.users.fallbackKeys.write(deviceKey{userID, deviceID}, func() error {
		return db.writeTx(ctx, func(tx *sql.Tx) error {
			for _, k := range keys {
				if _, err := tx.ExecContext(ctx, db.q(qUpsertFBK), userID, deviceID, keyAlgorithm(k.KeyID), k.KeyID, string(k.KeyJSON)); err != nil {
					return err
				}
			}
			return nil
		})
	})
}

// UnusedFallbackKeyTypes implements storage.E2EEStore. Every sync of the
// device asks, so the answer is kept in db.users.fallbackKeys.
func (db *DB) UnusedFallbackKeyTypes(ctx context.Context, userID, deviceID string) ([]string, error) {
	device := deviceKey{userID, deviceID}
	if types, ok := db.users.fallbackKeys.get(device); ok {
		return slices.Clone(types), nil
	}
	epoch := db.users.fallbackKeys.begin()
	types, err := db.queryColumn(ctx, qUnusedFBKs, userID, deviceID)
	if err != nil {
		return nil, err
	}
	db.users.fallbackKeys.put(epoch, device, types, device.typesWeight(types))
	return slices.Clone(types), nil
}

// ClaimKeys implements storage.E2EEStore. A claim picks the first key and
// deletes it; if a concurrent claim deleted it first (no row deleted), it
// picks again. Each retry means another caller took a key, so the loop
// ends when the device has none left.
func (db *DB) ClaimKeys(ctx context.Context, claims []storage.KeyClaim) ([]storage.ClaimedKey, error) {
	var out []storage.ClaimedKey
	for _, c := range claims {
		key, ok, err := db.claimOneCached(ctx, c)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, storage.ClaimedKey{UserID: c.UserID, DeviceID: c.DeviceID, OneTimeKey: key})
		}
	}
	return out, nil
}

// claimOneCached claims a key as claimOne does, which changes the
// device's one-time key counts or its unused fallback keys.
func (db *DB) claimOneCached(ctx context.Context, c storage.KeyClaim) (storage.OneTimeKey, bool, error) {
	device := deviceKey{c.UserID, c.DeviceID}
	db.users.oneTimeKeys.startWrite(device)
	db.users.fallbackKeys.startWrite(device)
	defer db.users.fallbackKeys.endWrite(device)
	defer db.users.oneTimeKeys.endWrite(device)
	return db.claimOne(ctx, c)
}

func (db *DB) claimOne(ctx context.Context, c storage.KeyClaim) (storage.OneTimeKey, bool, error) {
	for {
		var id, js string
		err := db.writer.QueryRowContext(ctx, db.q(qFirstOTK), c.UserID, c.DeviceID, c.Algorithm).Scan(&id, &js)
		if errors.Is(err, sql.ErrNoRows) {
			break
		}
		if err != nil {
			return storage.OneTimeKey{}, false, err
		}
		res, err := db.writer.ExecContext(ctx, db.q(qTakeOTK), c.UserID, c.DeviceID, id)
		if err != nil {
			return storage.OneTimeKey{}, false, err
		}
		if n, err := res.RowsAffected(); err != nil {
			return storage.OneTimeKey{}, false, err
		} else if n == 1 {
			return storage.OneTimeKey{KeyID: id, KeyJSON: []byte(js)}, true, nil
		}
	}
	var id, js string
	err := db.writer.QueryRowContext(ctx, db.q(qUseFBK), c.UserID, c.DeviceID, c.Algorithm).Scan(&id, &js)
	if errors.Is(err, sql.ErrNoRows) {
		return storage.OneTimeKey{}, false, nil
	}
	if err != nil {
		return storage.OneTimeKey{}, false, err
	}
	return storage.OneTimeKey{KeyID: id, KeyJSON: []byte(js)}, true, nil
}

// AddDeviceListChange implements storage.E2EEStore.
func (db *DB) AddDeviceListChange(ctx context.Context, userID, roomID, kind string) (int64, error) {
	var pos int64
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		var err error
		pos, err = db.addListChanges(ctx, tx, []string{userID}, roomID, kind)
		return err
	})
	return pos, err
}

// DeviceListChanges implements storage.E2EEStore.
func (db *DB) DeviceListChanges(ctx context.Context, from, upTo int64, limit int) ([]storage.DeviceListChange, error) {
	rows, err := db.reader.QueryContext(ctx, db.q(qListChanges), from, upTo, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []storage.DeviceListChange
	for rows.Next() {
		var c storage.DeviceListChange
		if err := rows.Scan(&c.Pos, &c.UserID, &c.RoomID, &c.Kind); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// DeviceListPosition implements storage.E2EEStore.
func (db *DB) DeviceListPosition(ctx context.Context) (int64, error) {
	return db.streamPosition(ctx, streamDeviceLists)
}
