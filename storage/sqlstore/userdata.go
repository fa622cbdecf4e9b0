package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"strconv"

	"github.com/warbler-im/warbler/storage"
)

// Stream counter names (rows of stream_counters).
const (
	counterAccountData = "account_data"
	counterReceipts    = "receipts"
)

const (
	qBumpCounter = `UPDATE stream_counters SET pos = pos + 1 WHERE stream = $1 RETURNING pos`
	qCounter     = `SELECT pos FROM stream_counters WHERE stream = $1`

	qUpsertAccountData = `INSERT INTO account_data (user_id, room_id, data_type, content, stream_pos)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (user_id, room_id, data_type) DO UPDATE SET content = excluded.content, stream_pos = excluded.stream_pos`
	qAccountData      = `SELECT content FROM account_data WHERE user_id = $1 AND room_id = $2 AND data_type = $3`
	qAccountDataSince = `SELECT room_id, data_type, content, stream_pos FROM account_data
		WHERE user_id = $1 AND stream_pos > $2 AND stream_pos <= $3 ORDER BY stream_pos LIMIT $4`

	// The WHERE of the upsert keeps a stored receipt at a later event.
	qUpsertReceipt = `INSERT INTO receipts (room_id, user_id, receipt_type, thread_id, event_id, event_order, ts, stream_pos)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (room_id, user_id, receipt_type, thread_id) DO UPDATE SET
			event_id = excluded.event_id, event_order = excluded.event_order, ts = excluded.ts, stream_pos = excluded.stream_pos
		WHERE receipts.event_order < excluded.event_order
		RETURNING stream_pos`

	qUpsertPresence = `INSERT INTO presence (user_id, presence, status_msg, last_active_ts, currently_active)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (user_id) DO UPDATE SET presence = excluded.presence, status_msg = excluded.status_msg,
			last_active_ts = excluded.last_active_ts, currently_active = excluded.currently_active`
	qPresence = `SELECT presence, status_msg, last_active_ts, currently_active FROM presence WHERE user_id = $1`
)

// bumpCounter hands out the next position of a stream inside tx.
func (db *DB) bumpCounter(ctx context.Context, tx *sql.Tx, stream string) (int64, error) {
	var pos int64
	err := tx.QueryRowContext(ctx, db.q(qBumpCounter), stream).Scan(&pos)
	return pos, err
}

func (db *DB) counter(ctx context.Context, stream string) (int64, error) {
	var pos int64
	err := db.writer.QueryRowContext(ctx, db.q(qCounter), stream).Scan(&pos)
	return pos, err
}

// SetAccountData implements storage.UserDataStore.
func (db *DB) SetAccountData(ctx context.Context, userID, roomID, dataType string, content []byte) (int64, error) {
	var pos int64
	err := db.users.accountData.write(accountDataKey{userID, roomID, dataType}, func() error {
		return db.writeTx(ctx, func(tx *sql.Tx) error {
			var err error
			if pos, err = db.bumpCounter(ctx, tx, counterAccountData); err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, db.q(qUpsertAccountData), userID, roomID, dataType, string(content), pos)
			return err
		})
	})
	return pos, err
}

// AccountData implements storage.UserDataStore. Every sync asks for
// m.ignored_user_list, so it is served from db.users.accountData,
// absence included.
func (db *DB) AccountData(ctx context.Context, userID, roomID, dataType string) ([]byte, error) {
	key := accountDataKey{userID, roomID, dataType}
	v, ok := db.users.accountData.get(key)
	if !ok {
		epoch := db.users.accountData.begin()
		var content string
		err := db.reader.QueryRowContext(ctx, db.q(qAccountData), userID, roomID, dataType).Scan(&content)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
		v = accountDataValue{content: []byte(content), found: err == nil}
		db.users.accountData.put(epoch, key, v, key.weight(v))
	}
	if !v.found {
		return nil, storage.ErrNotFound
	}
	return bytes.Clone(v.content), nil
}

// AccountDataSince implements storage.UserDataStore.
func (db *DB) AccountDataSince(ctx context.Context, userID string, from, upTo int64, limit int) ([]storage.AccountData, error) {
	if from >= upTo || limit <= 0 {
		return nil, nil
	}
	rows, err := db.reader.QueryContext(ctx, db.q(qAccountDataSince), userID, from, upTo, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []storage.AccountData
	for rows.Next() {
		ad := storage.AccountData{UserID: userID}
		var content string
		if err := rows.Scan(&ad.RoomID, &ad.Type, &content, &ad.StreamPos); err != nil {
			return nil, err
		}
		ad.Content = []byte(content)
		out = append(out, ad)
	}
	return out, rows.Err()
}

// MaxAccountDataPos implements storage.UserDataStore.
func (db *DB) MaxAccountDataPos(ctx context.Context) (int64, error) {
	return db.counter(ctx, counterAccountData)
}

// SetReceipt implements storage.UserDataStore. A receipt that does not
// move forward rolls back, so it does not use up a position.
func (db *DB) SetReceipt(ctx context.Context, r storage.Receipt) (int64, error) {
	var pos int64
	errKept := errors.New("receipt kept")
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		next, err := db.bumpCounter(ctx, tx, counterReceipts)
		if err != nil {
			return err
		}
		err = tx.QueryRowContext(ctx, db.q(qUpsertReceipt), r.RoomID, r.UserID, r.Type, r.ThreadID,
			r.EventID, r.EventOrder, r.TS, next).Scan(&pos)
		if errors.Is(err, sql.ErrNoRows) {
			return errKept
		}
		return err
	})
	if errors.Is(err, errKept) {
		return 0, nil
	}
	return pos, err
}

// ReceiptsSince implements storage.UserDataStore.
func (db *DB) ReceiptsSince(ctx context.Context, roomIDs []string, from, upTo int64, limit int) ([]storage.Receipt, error) {
	if from >= upTo || limit <= 0 || len(roomIDs) == 0 {
		return nil, nil
	}
	var out []storage.Receipt
	err := forChunks(roomIDs, func(chunk []string) error {
		if len(out) >= limit {
			return nil
		}
		// The IN list's placeholders must be the last ones (seqParams), so
		// the limit, an int, is written into the query.
		cond, args := db.inStrings("room_id", 3, chunk)
		query := `SELECT room_id, user_id, receipt_type, thread_id, event_id, event_order, ts, stream_pos
			FROM receipts WHERE stream_pos > $1 AND stream_pos <= $2 AND ` + cond +
			` ORDER BY stream_pos LIMIT ` + strconv.Itoa(limit-len(out))
		rows, err := db.reader.QueryContext(ctx, db.q(query), append([]any{from, upTo}, args...)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r storage.Receipt
			if err := rows.Scan(&r.RoomID, &r.UserID, &r.Type, &r.ThreadID, &r.EventID, &r.EventOrder, &r.TS, &r.StreamPos); err != nil {
				return err
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	return out, err
}

// MaxReceiptPos implements storage.UserDataStore.
func (db *DB) MaxReceiptPos(ctx context.Context) (int64, error) {
	return db.counter(ctx, counterReceipts)
}

// SetPresence implements storage.UserDataStore.
func (db *DB) SetPresence(ctx context.Context, p storage.Presence) error {
	active := 0
	if p.CurrentlyActive {
		active = 1
	}
	_, err := db.writer.ExecContext(ctx, db.q(qUpsertPresence), p.UserID, p.Presence, p.StatusMsg, p.LastActiveTS, active)
	return err
}

// GetPresence implements storage.UserDataStore.
func (db *DB) GetPresence(ctx context.Context, userID string) (storage.Presence, error) {
	p := storage.Presence{UserID: userID}
	var active int64
	err := db.reader.QueryRowContext(ctx, db.q(qPresence), userID).Scan(&p.Presence, &p.StatusMsg, &p.LastActiveTS, &active)
	if err != nil {
		return storage.Presence{}, notFound(err)
	}
	p.CurrentlyActive = active != 0
	return p, nil
}
