package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"strconv"

	"github.com/warbler-im/warbler/storage"
)

const (
	qInsertFilter = `INSERT INTO filters (user_id, filter_hash, filter_json) VALUES ($1, $2, $3)
		ON CONFLICT (user_id, filter_hash) DO NOTHING RETURNING filter_nid`
	qFilterByHash = `SELECT filter_nid FROM filters WHERE user_id = $1 AND filter_hash = $2`
	qFilter       = `SELECT filter_json FROM filters WHERE filter_nid = $1 AND user_id = $2`
)

// SaveFilter implements storage.FilterStore.
func (db *DB) SaveFilter(ctx context.Context, userID string, filterJSON []byte) (string, error) {
	sum := sha256.Sum256(filterJSON)
	hash := hex.EncodeToString(sum[:])
	var nid int64
	err := db.writer.QueryRowContext(ctx, db.q(qInsertFilter), userID, hash, string(filterJSON)).Scan(&nid)
	if errors.Is(err, sql.ErrNoRows) {
		// Saved before: the conflict returned no row.
		err = db.writer.QueryRowContext(ctx, db.q(qFilterByHash), userID, hash).Scan(&nid)
	}
	if err != nil {
		return "", err
	}
	return strconv.FormatInt(nid, 10), nil
}

// Filter implements storage.FilterStore.
func (db *DB) Filter(ctx context.Context, userID, filterID string) ([]byte, error) {
	nid, err := strconv.ParseInt(filterID, 10, 64)
	if err != nil || nid <= 0 {
		return nil, storage.ErrNotFound
	}
	var js string
	err = db.reader.QueryRowContext(ctx, db.q(qFilter), nid, userID).Scan(&js)
	if err != nil {
		return nil, notFound(err)
	}
	return []byte(js), nil
}
