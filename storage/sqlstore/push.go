package sqlstore

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/warbler-im/warbler/storage"
)

const (
	qInsertPushNotificationHead = `INSERT INTO push_notifications (room_id, stream_pos, event_id, thread_id, ts, actions, recipients)`
	qInsertPushNotificationTail = `ON CONFLICT (room_id, stream_pos) DO NOTHING`
	qRaisePushMark              = `INSERT INTO push_read_marks (user_id, room_id, thread_id, up_to) VALUES ($1, $2, $3, $4)
		ON CONFLICT (user_id, room_id, thread_id) DO UPDATE SET up_to = excluded.up_to
		WHERE push_read_marks.up_to < excluded.up_to`
	// A thread's mark at or below the room's mark for every thread says
	// nothing more: dropping it keeps a user's marks few.
	qPruneThreadMarks = `DELETE FROM push_read_marks
		WHERE user_id = $1 AND room_id = $2 AND thread_id <> '' AND up_to <= $3`
	// The mark for every thread first: past the limit, thread marks go.
	qRoomPushMarks = `SELECT thread_id, up_to FROM push_read_marks WHERE user_id = $1 AND room_id = $2
		ORDER BY thread_id <> '', up_to DESC LIMIT $3`
	// qScanRoomPush reads a room's notifications newest first in a
	// stream range, at most a given number, each with the user's line
	// of its recipients and the row's actions (NULL when it did not
	// notify the user), so only that line leaves the database. %[1]s is the dialect's find
	// function. The newline before recipients lets "\n"+userID+"\t"
	// match the first line too; matching the whole user ID between a
	// line start and its tab keeps @a:x from matching @a:x.y.
	qScanRoomPush = "SELECT stream_pos, event_id, thread_id, ts," +
		" CASE WHEN hit_at > 0 THEN substr(recipients, hit_at, %[1]s(substr(recipients, hit_at), '\n') - 1) END," +
		" CASE WHEN hit_at > 0 THEN actions END" +
		" FROM (SELECT stream_pos, event_id, thread_id, ts, actions, recipients, %[1]s('\n' || recipients, $2) AS hit_at" +
		" FROM push_notifications WHERE room_id = $1 AND stream_pos > $3 AND stream_pos < $4" +
		" ORDER BY stream_pos DESC LIMIT $5) scanned ORDER BY stream_pos DESC"

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

const (
	// maxPushWrites bounds the writes WritePush takes in one call.
	maxPushWrites = 10000
	// maxRoomPushMarks bounds the marks read of one user in one room: the
	// mark for every thread and the newest thread marks. Thread marks
	// below the mark for every thread are pruned, so only a user who
	// reads very many threads and never sends in the room nears it.
	maxRoomPushMarks = 1000
	// maxPushListScan bounds the notifications one PushActions call looks
	// at over all its rooms, and minPushListScanPerRoom is the least it
	// looks at in each room however many rooms there are.
	maxPushListScan        = 4000
	minPushListScanPerRoom = 16
)

// WritePush implements storage.PushStore. One commit covers every write,
// where a transaction per write cost a commit (and a flush to disk) each.
func (db *DB) WritePush(ctx context.Context, writes []storage.PushWrite) error {
	if len(writes) > maxPushWrites {
		return fmt.Errorf("storage: WritePush takes at most %d writes, got %d", maxPushWrites, len(writes))
	}
	// Encode (and so check) everything first: a bad write refuses them all.
	encoded := make([]encodedRecipients, len(writes))
	for i, w := range writes {
		if (w.Notification == nil) == (w.Mark == nil) {
			return &storage.BadPushWriteError{Index: i, Err: errors.New("must hold a notification or a mark")}
		}
		if n := w.Notification; n != nil {
			var err error
			if encoded[i], err = encodePushRecipients(n.Recipients); err != nil {
				return &storage.BadPushWriteError{Index: i, Err: err}
			}
		}
	}
	if len(writes) == 0 {
		return nil
	}
	return db.writeTx(ctx, func(tx *sql.Tx) error {
		if db.dialect.Name == SQLite.Name {
			return db.writePushSQLite(ctx, tx, writes, encoded)
		}
		return db.writePushBatched(ctx, tx, writes, encoded)
	})
}

// writePushSQLite runs each write as a prepared single-row statement:
// SQLite has no round trips, and there one prepared statement measured
// faster than parsing a new multi-row one each time.
func (db *DB) writePushSQLite(ctx context.Context, tx *sql.Tx, writes []storage.PushWrite, encoded []encodedRecipients) error {
	stmts := &txStatements{tx: tx, byQuery: map[string]*sql.Stmt{}}
	defer stmts.close()
	insert := db.q(qInsertPushNotificationHead + ` VALUES ($1, $2, $3, $4, $5, $6, $7) ` + qInsertPushNotificationTail)
	for i, w := range writes {
		if m := w.Mark; m != nil {
			if err := db.raisePushMark(ctx, stmts, m); err != nil {
				return err
			}
			continue
		}
		n := w.Notification
		e := encoded[i]
		if _, err := stmts.ExecContext(ctx, insert, n.RoomID, n.StreamPos, n.EventID, n.ThreadID, n.TS, e.shared, e.lines); err != nil {
			return err
		}
	}
	return nil
}

// txStatements runs queries in tx as statements prepared on first use
// and kept until close.
type txStatements struct {
	tx      *sql.Tx
	byQuery map[string]*sql.Stmt
}

func (t *txStatements) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	stmt, ok := t.byQuery[query]
	if !ok {
		var err error
		if stmt, err = t.tx.PrepareContext(ctx, query); err != nil {
			return nil, err
		}
		t.byQuery[query] = stmt
	}
	return stmt.ExecContext(ctx, args...)
}

func (t *txStatements) close() {
	for _, stmt := range t.byQuery {
		stmt.Close()
	}
}

// writePushBatched writes runs of notifications many rows per statement:
// on PostgreSQL a statement per row cost a round trip each. Marks run
// one statement each (an upsert cannot touch one row twice in a
// statement), as prepared statements.
func (db *DB) writePushBatched(ctx context.Context, tx *sql.Tx, writes []storage.PushWrite, encoded []encodedRecipients) error {
	const width = 7
	marks := db.newCachedTx(tx) // marks run as prepared statements
	var args []any
	for i := 0; i < len(writes); {
		if m := writes[i].Mark; m != nil {
			if err := db.raisePushMark(ctx, marks, m); err != nil {
				return err
			}
			i++
			continue
		}
		args = args[:0]
		for ; i < len(writes) && writes[i].Notification != nil; i++ {
			n := writes[i].Notification
			args = append(args, n.RoomID, n.StreamPos, n.EventID, n.ThreadID, n.TS, encoded[i].shared, encoded[i].lines)
		}
		if err := db.insertRows(ctx, tx, qInsertPushNotificationHead, width, args, qInsertPushNotificationTail); err != nil {
			return err
		}
	}
	return nil
}

func (db *DB) raisePushMark(ctx context.Context, ex execer, m *storage.PushMark) error {
	if _, err := ex.ExecContext(ctx, db.q(qRaisePushMark), m.UserID, m.RoomID, m.ThreadID, m.UpTo); err != nil {
		return err
	}
	if m.ThreadID != "" {
		return nil
	}
	_, err := ex.ExecContext(ctx, db.q(qPruneThreadMarks), m.UserID, m.RoomID, m.UpTo)
	return err
}

// encodedRecipients are a notification's actions and recipients columns.
type encodedRecipients struct {
	shared string // the actions most recipients have
	lines  string
}

// encodePushRecipients encodes the recipients: a line per user, "userID
// TAB 0|1 TAB actions LF", the actions left empty where they are the
// shared ones. Compacting the actions leaves no raw tab or newline in
// them (valid JSON has none inside strings), and makes equal actions
// equal bytes.
func encodePushRecipients(rs []storage.PushRecipient) (encodedRecipients, error) {
	if len(rs) == 0 {
		return encodedRecipients{}, errors.New("a notification without recipients")
	}
	compact := make([]string, len(rs))
	seen := map[string]int{}
	var buf bytes.Buffer
	for i, r := range rs {
		if r.UserID == "" || strings.ContainsAny(r.UserID, "\t\n") {
			return encodedRecipients{}, fmt.Errorf("recipient %q is not a user ID", r.UserID)
		}
		buf.Reset()
		if err := json.Compact(&buf, r.Actions); err != nil {
			return encodedRecipients{}, fmt.Errorf("actions of %s: %w", r.UserID, err)
		}
		compact[i] = buf.String()
		seen[compact[i]]++
	}
	var out encodedRecipients
	for actions, n := range seen {
		if n > seen[out.shared] || n == seen[out.shared] && actions < out.shared {
			out.shared = actions
		}
	}
	var b strings.Builder
	for i, r := range rs {
		b.WriteString(r.UserID)
		b.WriteByte('\t')
		b.WriteByte(byte('0' + boolInt(r.Highlight)))
		b.WriteByte('\t')
		if compact[i] != out.shared {
			b.WriteString(compact[i])
		}
		b.WriteByte('\n')
	}
	out.lines = b.String()
	return out, nil
}

// decodePushLine reads userID's line of a recipients column (without its
// newline) into a's highlight and actions, shared being the row's.
func decodePushLine(line, userID, shared string, a *storage.PushAction) error {
	rest, ok := strings.CutPrefix(line, userID+"\t")
	if !ok || len(rest) < 2 || rest[1] != '\t' || (rest[0] != '0' && rest[0] != '1') {
		return fmt.Errorf("storage: malformed push recipient line %q", line)
	}
	a.Highlight = rest[0] == '1'
	a.Actions = json.RawMessage(rest[2:])
	if len(a.Actions) == 0 {
		a.Actions = json.RawMessage(shared)
	}
	return nil
}

// pushMarks are a user's marks in one room: every thread's (all) and
// those of single threads.
type pushMarks struct {
	all      int64
	byThread map[string]int64
}

func (m pushMarks) read(pos int64, threadID string) bool {
	return pos <= m.all || pos <= m.byThread[threadID]
}

func (db *DB) roomPushMarks(ctx context.Context, userID, roomID string) (pushMarks, error) {
	var m pushMarks
	rows, err := db.reader.QueryContext(ctx, db.q(qRoomPushMarks), userID, roomID, maxRoomPushMarks)
	if err != nil {
		return m, err
	}
	defer rows.Close()
	for rows.Next() {
		var thread string
		var upTo int64
		if err := rows.Scan(&thread, &upTo); err != nil {
			return m, err
		}
		if thread == "" {
			m.all = upTo
			continue
		}
		if m.byThread == nil {
			m.byThread = map[string]int64{}
		}
		m.byThread[thread] = upTo
	}
	return m, rows.Err()
}

// scanRoomPush reads roomID's notifications with stream positions in
// (above, below), newest first, at most scan of them, and calls hit with
// each that notified userID (Read unset) until it returns false. It
// returns how many it looked at and the lowest position among them.
func (db *DB) scanRoomPush(ctx context.Context, userID, roomID string, above, below int64, scan int,
	hit func(storage.PushAction) bool) (scanned int, lowest int64, err error) {
	q := db.q(fmt.Sprintf(qScanRoomPush, db.dialect.find))
	rows, err := db.reader.QueryContext(ctx, q, roomID, "\n"+userID+"\t", above, below, scan)
	if err != nil {
		return 0, 0, err
	}
	defer rows.Close()
	for rows.Next() {
		a := storage.PushAction{UserID: userID, RoomID: roomID}
		var line, shared sql.NullString
		if err := rows.Scan(&a.StreamPos, &a.EventID, &a.ThreadID, &a.TS, &line, &shared); err != nil {
			return 0, 0, err
		}
		scanned, lowest = scanned+1, a.StreamPos
		if !line.Valid {
			continue
		}
		if err := decodePushLine(line.String, userID, shared.String, &a); err != nil {
			return 0, 0, err
		}
		if !hit(a) {
			break
		}
	}
	return scanned, lowest, rows.Err()
}

func checkPushRooms(roomIDs []string) error {
	if len(roomIDs) > storage.MaxPushRooms {
		return fmt.Errorf("storage: push reads take at most %d rooms, got %d", storage.MaxPushRooms, len(roomIDs))
	}
	return nil
}

// UnreadPushActions implements storage.PushStore: per room, the marks
// once, then the notifications above the mark for every thread.
func (db *DB) UnreadPushActions(ctx context.Context, userID string, roomIDs []string, scanPerRoom int) (storage.UnreadPush, error) {
	var out storage.UnreadPush
	if err := checkPushRooms(roomIDs); err != nil || scanPerRoom <= 0 {
		return out, err
	}
	for _, roomID := range roomIDs {
		marks, err := db.roomPushMarks(ctx, userID, roomID)
		if err != nil {
			return out, err
		}
		if marks.all > 0 {
			out.Marks = append(out.Marks, storage.PushMark{UserID: userID, RoomID: roomID, UpTo: marks.all})
		}
		for thread, upTo := range marks.byThread {
			out.Marks = append(out.Marks, storage.PushMark{UserID: userID, RoomID: roomID, ThreadID: thread, UpTo: upTo})
		}
		_, _, err = db.scanRoomPush(ctx, userID, roomID, marks.all, math.MaxInt64, scanPerRoom, func(a storage.PushAction) bool {
			if !marks.read(a.StreamPos, a.ThreadID) {
				out.Actions = append(out.Actions, a)
			}
			return true
		})
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// PushActions implements storage.PushStore. Each room is read newest
// first and the rooms' lists merged. A room read only down to some
// position (its share of maxPushListScan used up, or limit entries
// found) says nothing below it, so the page stops at the highest such
// position and next continues from there.
func (db *DB) PushActions(ctx context.Context, userID string, roomIDs []string, before int64, limit int, highlightsOnly bool) ([]storage.PushAction, int64, error) {
	if err := checkPushRooms(roomIDs); err != nil || limit <= 0 || len(roomIDs) == 0 {
		return nil, 0, err
	}
	if before <= 0 {
		before = math.MaxInt64
	}
	perRoom := max(maxPushListScan/len(roomIDs), minPushListScanPerRoom)
	var found []storage.PushAction
	var known int64 // every room's entries at or above it are in found
	for _, roomID := range roomIDs {
		kept := 0
		scanned, lowest, err := db.scanRoomPush(ctx, userID, roomID, 0, before, perRoom, func(a storage.PushAction) bool {
			if highlightsOnly && !a.Highlight {
				return true
			}
			found = append(found, a)
			kept++
			return kept < limit
		})
		if err != nil {
			return nil, 0, err
		}
		switch {
		case kept == limit:
			known = max(known, found[len(found)-1].StreamPos)
		case scanned == perRoom:
			known = max(known, lowest)
		}
	}
	found = slices.DeleteFunc(found, func(a storage.PushAction) bool { return a.StreamPos < known })
	slices.SortFunc(found, func(a, b storage.PushAction) int { return cmp.Compare(b.StreamPos, a.StreamPos) })
	var next int64
	if len(found) >= limit {
		found = found[:limit]
		next = found[limit-1].StreamPos
	} else if known > 0 {
		next = known
	}
	if err := db.setPushRead(ctx, userID, found); err != nil {
		return nil, 0, err
	}
	return found, next, nil
}

// setPushRead sets the Read flags of actions from the user's marks, read
// once per room.
func (db *DB) setPushRead(ctx context.Context, userID string, actions []storage.PushAction) error {
	marks := map[string]pushMarks{}
	for i := range actions {
		a := &actions[i]
		m, ok := marks[a.RoomID]
		if !ok {
			var err error
			if m, err = db.roomPushMarks(ctx, userID, a.RoomID); err != nil {
				return err
			}
			marks[a.RoomID] = m
		}
		a.Read = m.read(a.StreamPos, a.ThreadID)
	}
	return nil
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
