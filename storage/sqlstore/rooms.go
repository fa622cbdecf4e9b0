package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"

	"github.com/warbler-im/warbler/storage"
)

// Rooms themselves, and the reads answered from the tables that PersistEvents
// keeps beside the events: forward extremities, memberships and joined
// servers, and the stream counter. Each is one indexed lookup.

// The room's creation position is read from the counter in the same
// statement. SQLite needs the WHERE to tell the upsert clause from a join
// constraint after INSERT … SELECT.
const qCreateRoom = `INSERT INTO rooms (room_id, room_version, created_stream)
	SELECT $1, $2, position FROM stream_positions WHERE stream = 'events'
	ON CONFLICT DO NOTHING`

// qCreateRoomAt is qCreateRoom with the position given: on PostgreSQL
// the visible end of the stream comes from the tracker (stream.go).
const qCreateRoomAt = `INSERT INTO rooms (room_id, room_version, created_stream) VALUES ($1, $2, $3)
	ON CONFLICT DO NOTHING`

// CreateRoom implements storage.RoomStore.
func (db *DB) CreateRoom(ctx context.Context, roomID, version string) error {
	if roomID == "" || version == "" {
		return errors.New("storage: CreateRoom needs a room ID and a room version")
	}
	var res sql.Result
	var err error
	if db.stream != nil {
		res, err = db.writer.ExecContext(ctx, db.q(qCreateRoomAt), roomID, version, db.stream.visible())
	} else {
		res, err = db.writer.ExecContext(ctx, db.q(qCreateRoom), roomID, version)
	}
	if err != nil {
		return err
	}
	return ifNoRows(res, storage.ErrConflict)
}

// Room implements storage.RoomStore.
func (db *DB) Room(ctx context.Context, roomID string) (storage.RoomInfo, error) {
	info := storage.RoomInfo{RoomID: roomID}
	err := db.reader.QueryRowContext(ctx, db.q(`SELECT room_version, created_stream, current_snapshot, partial_state
		FROM rooms WHERE room_id = $1`), roomID).
		Scan(&info.Version, &info.CreatedStream, &info.CurrentSnapshot, &info.PartialState)
	if err != nil {
		return storage.RoomInfo{}, notFound(err)
	}
	return info, nil
}

// SetPartialState implements storage.RoomStore.
func (db *DB) SetPartialState(ctx context.Context, roomID string, partial bool) error {
	return execOne(ctx, db.writer, db.q(`UPDATE rooms SET partial_state = $2 WHERE room_id = $1`), roomID, partial)
}

// ForwardExtremities implements storage.RoomStore.
func (db *DB) ForwardExtremities(ctx context.Context, roomID string) ([]string, error) {
	room, err := db.roomNIDOf(ctx, roomID)
	if err != nil {
		return nil, err
	}
	return db.queryStrings(ctx, `SELECT e.event_id FROM forward_extremities f
		JOIN events e ON e.event_nid = f.event_nid
		WHERE f.room_nid = $1 AND e.rejected IS NULL`, room)
}

// Membership implements storage.RoomStore.
func (db *DB) Membership(ctx context.Context, roomID, userID string) (string, string, error) {
	var membership, eventID string
	err := db.reader.QueryRowContext(ctx, db.q(`SELECT m.membership, e.event_id FROM memberships m
		JOIN events e ON e.event_nid = m.event_nid
		WHERE m.room_nid = (SELECT room_nid FROM rooms WHERE room_id = $1)
		AND m.user_nid = (SELECT state_key_nid FROM state_keys WHERE state_key = $2)`), roomID, userID).
		Scan(&membership, &eventID)
	if err != nil {
		return "", "", notFound(err)
	}
	return membership, eventID, nil
}

// RoomMembers implements storage.RoomStore.
func (db *DB) RoomMembers(ctx context.Context, roomID, membership string) ([]string, error) {
	room, err := db.roomNIDOf(ctx, roomID)
	if err != nil {
		return nil, err
	}
	return db.queryStrings(ctx, `SELECT sk.state_key FROM memberships m
		JOIN state_keys sk ON sk.state_key_nid = m.user_nid
		WHERE m.room_nid = $1 AND m.membership = $2`, room, membership)
}

// RoomsForUser implements storage.RoomStore. A user never seen in any
// room is in none.
func (db *DB) RoomsForUser(ctx context.Context, userID, membership string) ([]string, error) {
	return db.queryStrings(ctx, `SELECT r.room_id FROM memberships m
		JOIN rooms r ON r.room_nid = m.room_nid
		WHERE m.user_nid = (SELECT state_key_nid FROM state_keys WHERE state_key = $1) AND m.membership = $2`, userID, membership)
}

// RoomsByMembership implements storage.RoomStore.
func (db *DB) RoomsByMembership(ctx context.Context, userID string) (map[string][]string, error) {
	if rooms, ok := db.users.rooms.get(userID); ok {
		return cloneRooms(rooms), nil
	}
	epoch := db.users.rooms.begin()
	rows, err := db.reader.QueryContext(ctx, db.q(`SELECT m.membership, r.room_id FROM memberships m
		JOIN rooms r ON r.room_nid = m.room_nid
		WHERE m.user_nid = (SELECT state_key_nid FROM state_keys WHERE state_key = $1)`), userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var membership, roomID string
		if err := rows.Scan(&membership, &roomID); err != nil {
			return nil, err
		}
		out[membership] = append(out[membership], roomID)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, rooms := range out {
		slices.Sort(rooms)
	}
	db.users.rooms.put(epoch, userID, out, roomsWeight(userID, out))
	return cloneRooms(out), nil
}

// JoinedServers implements storage.RoomStore.
func (db *DB) JoinedServers(ctx context.Context, roomID string) ([]string, error) {
	if servers, ok := db.users.joinedServers.get(roomID); ok {
		return slices.Clone(servers), nil
	}
	epoch := db.users.joinedServers.begin()
	room, err := db.roomNIDOf(ctx, roomID)
	if err != nil {
		return nil, err
	}
	servers, err := db.queryStrings(ctx, `SELECT server_name FROM room_joined_servers
		WHERE room_nid = $1 AND joined_count > 0`, room)
	if err != nil {
		return nil, err
	}
	weight := len(roomID) + cacheEntryOverhead
	for _, s := range servers {
		weight += len(s) + 16
	}
	db.users.joinedServers.put(epoch, roomID, slices.Clone(servers), weight)
	return servers, nil
}

// qUserJoinedServers joins the user's joined rooms to their joined
// servers; both sides are indexed (memberships_user, the primary key of
// room_joined_servers), so neither query reads rooms one by one.
const qUserJoinedServers = `FROM memberships m
	JOIN room_joined_servers s ON s.room_nid = m.room_nid
	WHERE m.user_nid = (SELECT state_key_nid FROM state_keys WHERE state_key = $1)
	AND m.membership = 'join' AND s.joined_count > 0`

// ServersSharingRooms implements storage.RoomStore.
func (db *DB) ServersSharingRooms(ctx context.Context, userID string) ([]string, error) {
	return db.queryStrings(ctx, `SELECT DISTINCT s.server_name `+qUserJoinedServers, userID)
}

// ServerSharesRoom implements storage.RoomStore.
func (db *DB) ServerSharesRoom(ctx context.Context, userID, server, exceptRoomID string) (bool, error) {
	var one int
	err := db.reader.QueryRowContext(ctx, db.q(`SELECT 1 `+qUserJoinedServers+` AND s.server_name = $2
		AND m.room_nid NOT IN (SELECT room_nid FROM rooms WHERE room_id = $3) LIMIT 1`), userID, server, exceptRoomID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// MaxStreamPosition implements storage.RoomStore: the visible end of the
// events stream, kept in memory on both engines (stream.go).
func (db *DB) MaxStreamPosition(context.Context) (int64, error) {
	if db.stream != nil {
		return db.stream.visible(), nil
	}
	return db.committedStream.Load(), nil
}
