package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/warbler-im/warbler/storage"
)

const (
	qPublishRoom    = `INSERT INTO published_rooms (room_id) VALUES ($1) ON CONFLICT (room_id) DO NOTHING`
	qUnpublishRoom  = `DELETE FROM published_rooms WHERE room_id = $1`
	qRoomPublished  = `SELECT COUNT(*) FROM published_rooms WHERE room_id = $1`
	qPublishedRooms = `SELECT room_id FROM published_rooms ORDER BY room_id LIMIT $1`
	qForgetRoom     = `INSERT INTO forgotten_rooms (user_id, room_id, member_event_id) VALUES ($1, $2, $3)
		ON CONFLICT (user_id, room_id) DO UPDATE SET member_event_id = excluded.member_event_id`
	qMoveAliases    = `UPDATE room_aliases SET room_id = $2 WHERE room_id = $1`
	qSearchProfiles = `SELECT u.user_id, p.displayname, p.avatar_url FROM users u JOIN profiles p ON p.user_nid = u.user_nid
		WHERE u.deactivated = FALSE AND u.is_guest = FALSE
		AND (lower(u.user_id) LIKE $1 ESCAPE '\' OR lower(p.displayname) LIKE $1 ESCAPE '\')
		ORDER BY u.user_id LIMIT $2`
	qRoomForgotten  = `SELECT member_event_id FROM forgotten_rooms WHERE user_id = $1 AND room_id = $2`
	qForgottenRooms = `SELECT room_id, member_event_id FROM forgotten_rooms WHERE user_id = $1 ORDER BY room_id LIMIT $2`
)

// SetRoomPublished implements storage.DirectoryStore.
func (db *DB) SetRoomPublished(ctx context.Context, roomID string, published bool) error {
	query := qUnpublishRoom
	if published {
		query = qPublishRoom
	}
	_, err := db.writer.ExecContext(ctx, db.q(query), roomID)
	return err
}

// RoomPublished implements storage.DirectoryStore.
func (db *DB) RoomPublished(ctx context.Context, roomID string) (bool, error) {
	var n int
	err := db.reader.QueryRowContext(ctx, db.q(qRoomPublished), roomID).Scan(&n)
	return n > 0, err
}

// PublishedRooms implements storage.DirectoryStore.
func (db *DB) PublishedRooms(ctx context.Context, limit int) ([]string, error) {
	return db.queryColumn(ctx, qPublishedRooms, max(limit, 0))
}

// ForgetRoom implements storage.DirectoryStore.
func (db *DB) ForgetRoom(ctx context.Context, userID, roomID, memberEventID string) error {
	_, err := db.writer.ExecContext(ctx, db.q(qForgetRoom), userID, roomID, memberEventID)
	return err
}

// ForgottenRooms implements storage.DirectoryStore.
func (db *DB) ForgottenRooms(ctx context.Context, userID string, limit int) (map[string]string, error) {
	rows, err := db.reader.QueryContext(ctx, db.q(qForgottenRooms), userID, max(limit, 0))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var roomID, eventID string
		if err := rows.Scan(&roomID, &eventID); err != nil {
			return nil, err
		}
		out[roomID] = eventID
	}
	return out, rows.Err()
}

// RoomForgotten implements storage.DirectoryStore.
func (db *DB) RoomForgotten(ctx context.Context, userID, roomID string) (string, error) {
	var eventID string
	err := db.reader.QueryRowContext(ctx, db.q(qRoomForgotten), userID, roomID).Scan(&eventID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return eventID, err
}

// MoveAliases implements storage.DirectoryStore.
func (db *DB) MoveAliases(ctx context.Context, fromRoomID, toRoomID string) error {
	_, err := db.writer.ExecContext(ctx, db.q(qMoveAliases), fromRoomID, toRoomID)
	return err
}

// SearchProfiles implements storage.DirectoryStore. It scans the
// profiles: fine for a regional server's user count; a trigram or
// full-text index is the next step if that grows large.
func (db *DB) SearchProfiles(ctx context.Context, term string, limit int) ([]storage.Profile, error) {
	pattern := "%" + likeEscaper.Replace(strings.ToLower(term)) + "%"
	rows, err := db.reader.QueryContext(ctx, db.q(qSearchProfiles), pattern, max(limit, 0))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []storage.Profile{}
	for rows.Next() {
		var p storage.Profile
		if err := rows.Scan(&p.UserID, &p.DisplayName, &p.AvatarURL); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// likeEscaper makes LIKE's wildcards and escape character literal.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// EventsByTimestamp implements storage.DirectoryStore. The
// (room_nid, origin_server_ts) index takes the query straight to ts.
func (db *DB) EventsByTimestamp(ctx context.Context, roomID string, ts int64, forwards bool, limit int) ([]storage.StoredEvent, error) {
	room, err := db.roomNIDOf(ctx, roomID)
	if errors.Is(err, storage.ErrNotFound) || limit <= 0 {
		return []storage.StoredEvent{}, nil
	}
	if err != nil {
		return nil, err
	}
	cond, order := ` AND e.origin_server_ts <= $2`, ` ORDER BY e.origin_server_ts DESC, e.stream_pos DESC`
	if forwards {
		cond, order = ` AND e.origin_server_ts >= $2`, ` ORDER BY e.origin_server_ts, e.stream_pos`
	}
	query := qSelectEvents + ` WHERE e.room_nid = $1 AND e.outlier = FALSE AND e.stream_pos IS NOT NULL` + cond + visible + order + ` LIMIT $3`
	events, err := db.queryEvents(ctx, db.reader, query, room, ts, limit)
	if events == nil && err == nil {
		events = []storage.StoredEvent{}
	}
	return events, err
}
