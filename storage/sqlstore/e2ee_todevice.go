package sqlstore

import (
	"context"
	"database/sql"

	"github.com/warbler-im/warbler/storage"
)

const (
	qExpireTxns = `DELETE FROM e2ee_to_device_txns WHERE user_id = $1 AND device_id = $2 AND created_ts < $3`
	qInsertTxn  = `INSERT INTO e2ee_to_device_txns (user_id, device_id, txn_id, created_ts) VALUES ($1, $2, $3, $4)
		ON CONFLICT (user_id, device_id, txn_id) DO NOTHING`
	qInsertToDevice = `INSERT INTO e2ee_to_device (user_id, device_id, pos, sender, event_type, content_json)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (user_id, device_id, pos) DO NOTHING`
	qToDevice = `SELECT pos, sender, event_type, content_json FROM e2ee_to_device
		WHERE user_id = $1 AND device_id = $2 AND pos > $3 AND pos <= $4 ORDER BY pos LIMIT $5`
	qAckToDevice = `DELETE FROM e2ee_to_device WHERE user_id = $1 AND device_id = $2 AND pos <= $3`
)

// SendToDevice implements storage.E2EEStore.
func (db *DB) SendToDevice(ctx context.Context, senderUserID, senderDeviceID, txnID string, nowMs, txnExpiryMs int64, msgs []storage.ToDeviceMessage) (int64, bool, error) {
	var pos int64
	duplicate := false
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, db.q(qExpireTxns), senderUserID, senderDeviceID, txnExpiryMs); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, db.q(qInsertTxn), senderUserID, senderDeviceID, txnID, nowMs)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			duplicate = err == nil
			return err
		}
		if pos, err = bumpStream(ctx, tx, db, streamToDevice); err != nil {
			return err
		}
		for _, m := range msgs {
			if _, err := tx.ExecContext(ctx, db.q(qInsertToDevice), m.UserID, m.DeviceID, pos, senderUserID, m.Type, string(m.Content)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil || duplicate {
		return 0, duplicate, err
	}
	return pos, false, nil
}

// ToDeviceMessages implements storage.E2EEStore.
func (db *DB) ToDeviceMessages(ctx context.Context, userID, deviceID string, after, upTo int64, limit int) ([]storage.ToDeviceMessage, error) {
	rows, err := db.reader.QueryContext(ctx, db.q(qToDevice), userID, deviceID, after, upTo, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []storage.ToDeviceMessage
	for rows.Next() {
		m := storage.ToDeviceMessage{UserID: userID, DeviceID: deviceID}
		var content string
		if err := rows.Scan(&m.Pos, &m.Sender, &m.Type, &content); err != nil {
			return nil, err
		}
		m.Content = []byte(content)
		out = append(out, m)
	}
	return out, rows.Err()
}

// DeleteToDeviceMessages implements storage.E2EEStore.
func (db *DB) DeleteToDeviceMessages(ctx context.Context, userID, deviceID string, upTo int64) error {
	_, err := db.writer.ExecContext(ctx, db.q(qAckToDevice), userID, deviceID, upTo)
	return err
}

// ToDevicePosition implements storage.E2EEStore.
func (db *DB) ToDevicePosition(ctx context.Context) (int64, error) {
	return db.streamPosition(ctx, streamToDevice)
}
