package sqlstore

import (
	"context"
	"database/sql"

	"github.com/warbler-im/warbler/storage"
)

const (
	qUpsertRemoteInvite = `INSERT INTO remote_invites
		(room_id, user_id, event_id, room_version, sender, membership, event_json, invite_state, stream_pos)
		VALUES ($1, $2, $3, $4, $5, 'invite', $6, $7, $8)
		ON CONFLICT (room_id, user_id) DO UPDATE SET event_id = excluded.event_id,
		room_version = excluded.room_version, sender = excluded.sender, membership = 'invite',
		event_json = excluded.event_json, invite_state = excluded.invite_state, stream_pos = excluded.stream_pos`
	qRemoteInviteCols = `SELECT room_id, user_id, event_id, room_version, sender, membership, event_json, invite_state, stream_pos
		FROM remote_invites`
	qRejectRemoteInvite = `UPDATE remote_invites SET membership = 'leave', event_json = $3, stream_pos = $4
		WHERE room_id = $1 AND user_id = $2 AND membership = 'invite'`
	qDeleteRemoteInvite = `DELETE FROM remote_invites WHERE room_id = $1 AND user_id = $2`
)

// AddRemoteInvite implements storage.RemoteInviteStore. The stream
// position is taken in the same transaction as the row, so a reader that
// sees the position also sees the invite.
func (db *DB) AddRemoteInvite(ctx context.Context, inv storage.RemoteInvite) (pos int64, err error) {
	err = db.users.remoteInvites.write(inv.UserID, func() error {
		pos, err = db.writeAtStreamPosition(ctx, func(tx *sql.Tx, pos int64) error {
			_, err := tx.ExecContext(ctx, db.q(qUpsertRemoteInvite), inv.RoomID, inv.UserID, inv.EventID,
				inv.RoomVersion, inv.Sender, inv.Event, inv.InviteState, pos)
			return err
		})
		return err
	})
	return pos, err
}

// RemoteInvite implements storage.RemoteInviteStore.
func (db *DB) RemoteInvite(ctx context.Context, roomID, userID string) (storage.RemoteInvite, error) {
	rows, err := db.reader.QueryContext(ctx, db.q(qRemoteInviteCols+` WHERE room_id = $1 AND user_id = $2 AND membership = 'invite'`), roomID, userID)
	if err != nil {
		return storage.RemoteInvite{}, err
	}
	invs, err := scanRemoteInvites(rows)
	if err != nil {
		return storage.RemoteInvite{}, err
	}
	if len(invs) == 0 {
		return storage.RemoteInvite{}, storage.ErrNotFound
	}
	return invs[0], nil
}

// RemoteInvitesForUser implements storage.RemoteInviteStore. Every sync
// asks, and most users have no remote invite: the answer comes from
// db.users.remoteInvites when the user's rejected invites are all at or
// before since, which is when the pending ones alone are the answer.
func (db *DB) RemoteInvitesForUser(ctx context.Context, userID string, since int64, limit int) ([]storage.RemoteInvite, error) {
	c, ok := db.users.remoteInvites.get(userID)
	if !ok {
		var err error
		if c, err = db.fillRemoteInvites(ctx, userID); err != nil {
			return nil, err
		}
	}
	if c.tooMany || c.newestRejected > since || limit <= 0 {
		rows, err := db.reader.QueryContext(ctx, db.q(qRemoteInviteCols+` WHERE user_id = $1 AND (membership = 'invite' OR stream_pos > $2)
			ORDER BY stream_pos LIMIT $3`), userID, since, limit)
		if err != nil {
			return nil, err
		}
		return scanRemoteInvites(rows)
	}
	var out []storage.RemoteInvite
	for _, inv := range c.pending[:min(limit, len(c.pending))] {
		out = append(out, cloneRemoteInvite(inv))
	}
	return out, nil
}

// fillRemoteInvites reads what db.users.remoteInvites keeps of a user,
// and keeps it.
func (db *DB) fillRemoteInvites(ctx context.Context, userID string) (cachedRemoteInvites, error) {
	epoch := db.users.remoteInvites.begin()
	rows, err := db.reader.QueryContext(ctx, db.q(qRemoteInviteCols+` WHERE user_id = $1 AND membership = 'invite'
		ORDER BY stream_pos LIMIT $2`), userID, maxCachedRemoteInvites+1)
	if err != nil {
		return cachedRemoteInvites{}, err
	}
	pending, err := scanRemoteInvites(rows)
	if err != nil {
		return cachedRemoteInvites{}, err
	}
	c := cachedRemoteInvites{pending: pending, tooMany: len(pending) > maxCachedRemoteInvites}
	if c.tooMany {
		c.pending = nil
	}
	err = db.reader.QueryRowContext(ctx, db.q(`SELECT COALESCE(MAX(stream_pos), 0) FROM remote_invites
		WHERE user_id = $1 AND membership <> 'invite'`), userID).Scan(&c.newestRejected)
	if err != nil {
		return cachedRemoteInvites{}, err
	}
	// A write between the two reads ends after begin, so put refuses
	// the mixture.
	db.users.remoteInvites.put(epoch, userID, c, c.weight(userID))
	return c, nil
}

// RejectRemoteInvite implements storage.RemoteInviteStore.
func (db *DB) RejectRemoteInvite(ctx context.Context, roomID, userID string, leave []byte) (pos int64, err error) {
	err = db.users.remoteInvites.write(userID, func() error {
		pos, err = db.writeAtStreamPosition(ctx, func(tx *sql.Tx, pos int64) error {
			res, err := tx.ExecContext(ctx, db.q(qRejectRemoteInvite), roomID, userID, leave, pos)
			if err != nil {
				return err
			}
			return ifNoRows(res, storage.ErrNotFound)
		})
		return err
	})
	return pos, err
}

// DeleteRemoteInvite implements storage.RemoteInviteStore.
func (db *DB) DeleteRemoteInvite(ctx context.Context, roomID, userID string) error {
	return db.users.remoteInvites.write(userID, func() error {
		_, err := db.writer.ExecContext(ctx, db.q(qDeleteRemoteInvite), roomID, userID)
		return err
	})
}

func scanRemoteInvites(rows *sql.Rows) ([]storage.RemoteInvite, error) {
	defer rows.Close()
	var out []storage.RemoteInvite
	for rows.Next() {
		var inv storage.RemoteInvite
		if err := rows.Scan(&inv.RoomID, &inv.UserID, &inv.EventID, &inv.RoomVersion, &inv.Sender, &inv.Membership,
			&inv.Event, &inv.InviteState, &inv.StreamPos); err != nil {
			return nil, err
		}
		out = append(out, inv)
	}
	return out, rows.Err()
}
