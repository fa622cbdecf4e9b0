package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/warbler-im/warbler/storage"
)

const (
	qInsertPushActionHead = `INSERT INTO push_actions (user_id, stream_pos, room_id, event_id, thread_id, ts, highlight, actions)`
	qInsertPushActionTail = `ON CONFLICT (user_id, stream_pos) DO NOTHING`
	qMarkReadAllThreads   = `UPDATE push_actions SET is_read = 1
		WHERE user_id = $1 AND room_id = $2 AND stream_pos <= $3 AND is_read = 0`
	qMarkReadThread = `UPDATE push_actions SET is_read = 1
		WHERE user_id = $1 AND room_id = $2 AND stream_pos <= $3 AND is_read = 0 AND thread_id = $4`
	qUnreadCounts = `SELECT room_id, thread_id, COUNT(*), SUM(highlight) FROM push_actions
		WHERE user_id = $1 AND is_read = 0 GROUP BY room_id, thread_id`
	qPushActions = `SELECT stream_pos, room_id, event_id, thread_id, ts, highlight, actions, is_read FROM push_actions
		WHERE user_id = $1 AND stream_pos < $2 AND highlight >= $3 ORDER BY stream_pos DESC LIMIT $4`

	qUpsertPusher = `INSERT INTO pushers (user_id, app_id, pushkey, kind, app_display_name, device_display_name, profile_tag, lang, data, created_ts)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (user_id, app_id, pushkey) DO UPDATE SET kind = excluded.kind,
			app_display_name = excluded.app_display_name, device_display_name = excluded.device_display_name,
			profile_tag = excluded.profile_tag, lang = excluded.lang, data = excluded.data`
	qDeleteOthersPushers = `DELETE FROM pushers WHERE app_id = $1 AND pushkey = $2 AND user_id <> $3`
	qDeletePusher        = `DELETE FROM pushers WHERE user_id = $1 AND app_id = $2 AND pushkey = $3`
	qPushers             = `SELECT app_id, pushkey, kind, app_display_name, device_display_name, profile_tag, lang, data, created_ts
		FROM pushers WHERE user_id = $1 ORDER BY created_ts, app_id, pushkey`
)

// AddPushActions implements storage.PushStore.
func (db *DB) AddPushActions(ctx context.Context, actions []storage.PushAction) error {
	if len(actions) == 0 {
		return nil
	}
	return db.writeTx(ctx, func(tx *sql.Tx) error { return db.insertPushActions(ctx, tx, actions) })
}

// insertPushActions writes actions. On PostgreSQL they go many rows per
// statement: the write-behind flush sends one action per notified member
// and event, and a statement per row cost a round trip each (98,000 of
// the 212,000 statements of a 2,000-message warbler bench). SQLite has no
// round trips, and there one prepared single-row statement measured
// faster than parsing a new multi-row one each time.
func (db *DB) insertPushActions(ctx context.Context, tx *sql.Tx, actions []storage.PushAction) error {
	const width = 8
	if db.dialect.Name == SQLite.Name {
		stmt, err := tx.PrepareContext(ctx, db.q(qInsertPushActionHead+` VALUES ($1, $2, $3, $4, $5, $6, $7, $8) `+qInsertPushActionTail))
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, a := range actions {
			if _, err := stmt.ExecContext(ctx, a.UserID, a.StreamPos, a.RoomID, a.EventID, a.ThreadID, a.TS,
				boolInt(a.Highlight), string(a.Actions)); err != nil {
				return err
			}
		}
		return nil
	}
	args := make([]any, 0, len(actions)*width)
	for _, a := range actions {
		args = append(args, a.UserID, a.StreamPos, a.RoomID, a.EventID, a.ThreadID, a.TS, boolInt(a.Highlight), string(a.Actions))
	}
	return db.insertRows(ctx, tx, qInsertPushActionHead, width, args, qInsertPushActionTail)
}

// MarkPushActionsRead implements storage.PushStore.
func (db *DB) MarkPushActionsRead(ctx context.Context, userID, roomID, threadID string, upTo int64) error {
	return db.markPushRead(ctx, db.writer, storage.PushMark{UserID: userID, RoomID: roomID, ThreadID: threadID, UpTo: upTo})
}

func (db *DB) markPushRead(ctx context.Context, ex execer, m storage.PushMark) error {
	var err error
	if m.ThreadID == "" {
		_, err = ex.ExecContext(ctx, db.q(qMarkReadAllThreads), m.UserID, m.RoomID, m.UpTo)
	} else {
		_, err = ex.ExecContext(ctx, db.q(qMarkReadThread), m.UserID, m.RoomID, m.UpTo, m.ThreadID)
	}
	return err
}

// maxPushWrites bounds the writes WritePush takes in one call.
const maxPushWrites = 10000

// WritePush implements storage.PushStore. Runs of actions become multi-
// row inserts; one commit covers them all, where a transaction per run
// and per mark cost a commit (and a flush to disk) each.
func (db *DB) WritePush(ctx context.Context, writes []storage.PushWrite) error {
	if len(writes) > maxPushWrites {
		return fmt.Errorf("storage: WritePush takes at most %d writes, got %d", maxPushWrites, len(writes))
	}
	for i, w := range writes {
		if (w.Action == nil) == (w.Mark == nil) {
			return fmt.Errorf("storage: push write %d must hold an action or a mark", i)
		}
	}
	if len(writes) == 0 {
		return nil
	}
	return db.writeTx(ctx, func(tx *sql.Tx) error {
		marks := db.newCachedTx(tx) // marks run as prepared statements
		for len(writes) > 0 {
			if m := writes[0].Mark; m != nil {
				if err := db.markPushRead(ctx, marks, *m); err != nil {
					return err
				}
				writes = writes[1:]
				continue
			}
			var run []storage.PushAction
			for len(writes) > 0 && writes[0].Action != nil {
				run = append(run, *writes[0].Action)
				writes = writes[1:]
			}
			if err := db.insertPushActions(ctx, tx, run); err != nil {
				return err
			}
		}
		return nil
	})
}

// UnreadCounts implements storage.PushStore.
func (db *DB) UnreadCounts(ctx context.Context, userID string) ([]storage.UnreadCount, error) {
	rows, err := db.reader.QueryContext(ctx, db.q(qUnreadCounts), userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []storage.UnreadCount
	for rows.Next() {
		var c storage.UnreadCount
		if err := rows.Scan(&c.RoomID, &c.ThreadID, &c.Notify, &c.Highlight); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// PushActions implements storage.PushStore.
func (db *DB) PushActions(ctx context.Context, userID string, before int64, limit int, highlightsOnly bool) ([]storage.PushAction, error) {
	if before <= 0 {
		before = 1 << 62
	}
	rows, err := db.reader.QueryContext(ctx, db.q(qPushActions), userID, before, boolInt(highlightsOnly), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []storage.PushAction
	for rows.Next() {
		a := storage.PushAction{UserID: userID}
		var highlight, read int
		var actions string
		if err := rows.Scan(&a.StreamPos, &a.RoomID, &a.EventID, &a.ThreadID, &a.TS, &highlight, &actions, &read); err != nil {
			return nil, err
		}
		a.Highlight, a.Read, a.Actions = highlight != 0, read != 0, []byte(actions)
		out = append(out, a)
	}
	return out, rows.Err()
}

// SetPusher implements storage.PushStore.
func (db *DB) SetPusher(ctx context.Context, p storage.Pusher, appendPusher bool) error {
	return db.writeTx(ctx, func(tx *sql.Tx) error {
		if !appendPusher {
			if _, err := tx.ExecContext(ctx, db.q(qDeleteOthersPushers), p.AppID, p.PushKey, p.UserID); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, db.q(qUpsertPusher), p.UserID, p.AppID, p.PushKey, p.Kind, p.AppDisplayName,
			p.DeviceDisplayName, p.ProfileTag, p.Lang, string(p.Data), p.CreatedTS)
		return err
	})
}

// DeletePusher implements storage.PushStore.
func (db *DB) DeletePusher(ctx context.Context, userID, appID, pushKey string) error {
	_, err := db.writer.ExecContext(ctx, db.q(qDeletePusher), userID, appID, pushKey)
	return err
}

// Pushers implements storage.PushStore.
func (db *DB) Pushers(ctx context.Context, userID string) ([]storage.Pusher, error) {
	rows, err := db.reader.QueryContext(ctx, db.q(qPushers), userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []storage.Pusher
	for rows.Next() {
		p := storage.Pusher{UserID: userID}
		var data string
		if err := rows.Scan(&p.AppID, &p.PushKey, &p.Kind, &p.AppDisplayName, &p.DeviceDisplayName,
			&p.ProfileTag, &p.Lang, &data, &p.CreatedTS); err != nil {
			return nil, err
		}
		p.Data = []byte(data)
		out = append(out, p)
	}
	return out, rows.Err()
}
