package sqlstore

import (
	"context"

	"github.com/warbler-im/warbler/storage"
)

// RoomMemberSummary implements storage.RoomSummaryStore. The counts and
// the heroes come from the memberships table's (room_nid, membership)
// index: one grouped count, then the oldest few members.
func (db *DB) RoomMemberSummary(ctx context.Context, roomID, exclude string, maxHeroes int) (storage.MemberSummary, error) {
	var out storage.MemberSummary
	room, err := db.roomNIDOf(ctx, roomID)
	if err != nil {
		return out, err
	}
	if out.Joined, out.Invited, err = db.memberCounts(ctx, room); err != nil {
		return out, err
	}
	if out.Heroes, err = db.heroes(ctx, room, exclude, maxHeroes, storage.MembershipJoin, storage.MembershipInvite); err != nil {
		return out, err
	}
	if len(out.Heroes) == 0 {
		out.Heroes, err = db.heroes(ctx, room, exclude, maxHeroes, storage.MembershipLeave, storage.MembershipBan)
	}
	return out, err
}

func (db *DB) memberCounts(ctx context.Context, room int64) (joined, invited int, err error) {
	rows, err := db.reader.QueryContext(ctx, db.q(`SELECT membership, COUNT(*) FROM memberships
		WHERE room_nid = $1 AND membership IN ($2, $3) GROUP BY membership`),
		room, storage.MembershipJoin, storage.MembershipInvite)
	if err != nil {
		return 0, 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var membership string
		var n int
		if err := rows.Scan(&membership, &n); err != nil {
			return 0, 0, err
		}
		if membership == storage.MembershipJoin {
			joined = n
		} else {
			invited = n
		}
	}
	return joined, invited, rows.Err()
}

// heroes lists up to limit members of the two memberships other than
// exclude, oldest membership first.
func (db *DB) heroes(ctx context.Context, room int64, exclude string, limit int, m1, m2 string) ([]string, error) {
	rows, err := db.reader.QueryContext(ctx, db.q(`SELECT sk.state_key FROM memberships m
		JOIN state_keys sk ON sk.state_key_nid = m.user_nid
		WHERE m.room_nid = $1 AND m.membership IN ($2, $3) AND sk.state_key <> $4
		ORDER BY m.stream_pos, sk.state_key LIMIT $5`), room, m1, m2, exclude, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var user string
		if err := rows.Scan(&user); err != nil {
			return nil, err
		}
		out = append(out, user)
	}
	return out, rows.Err()
}
