package sqlstore

import (
	"context"

	"github.com/warbler-im/warbler/storage"
)

const (
	qInsertAlias = `INSERT INTO room_aliases (alias, room_id, creator) VALUES ($1, $2, $3)
		ON CONFLICT (alias) DO NOTHING`
	qAliasRoom   = `SELECT room_id, creator FROM room_aliases WHERE alias = $1`
	qDeleteAlias = `DELETE FROM room_aliases WHERE alias = $1`
	qRoomAliases = `SELECT alias FROM room_aliases WHERE room_id = $1 ORDER BY alias`
)

// CreateAlias implements storage.AliasStore.
func (db *DB) CreateAlias(ctx context.Context, alias, roomID, creator string) error {
	res, err := db.writer.ExecContext(ctx, db.q(qInsertAlias), alias, roomID, creator)
	if err != nil {
		return err
	}
	return ifNoRows(res, storage.ErrConflict)
}

// AliasRoom implements storage.AliasStore.
func (db *DB) AliasRoom(ctx context.Context, alias string) (roomID, creator string, err error) {
	err = db.reader.QueryRowContext(ctx, db.q(qAliasRoom), alias).Scan(&roomID, &creator)
	return roomID, creator, notFound(err)
}

// DeleteAlias implements storage.AliasStore.
func (db *DB) DeleteAlias(ctx context.Context, alias string) error {
	return execOne(ctx, db.writer, db.q(qDeleteAlias), alias)
}

// RoomAliases implements storage.AliasStore.
func (db *DB) RoomAliases(ctx context.Context, roomID string) ([]string, error) {
	rows, err := db.reader.QueryContext(ctx, db.q(qRoomAliases), roomID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	aliases := []string{}
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return nil, err
		}
		aliases = append(aliases, a)
	}
	return aliases, rows.Err()
}
