package sqlstore

import (
	"context"

	"github.com/warbler-im/warbler/storage"
)

const (
	qAddSigningKey = `INSERT INTO server_signing_keys (key_id, public_key, created_ts, expired_ts)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT DO NOTHING`
	qSigningKeys = `SELECT key_id, public_key, created_ts, expired_ts
		FROM server_signing_keys
		ORDER BY created_ts, key_id`
	qExpireSigningKey = `UPDATE server_signing_keys SET expired_ts = $2 WHERE key_id = $1`
)

// AddSigningKey implements storage.ServerKeyStore.
func (db *DB) AddSigningKey(ctx context.Context, k storage.SigningKey) error {
	res, err := db.writer.ExecContext(ctx, db.q(qAddSigningKey), k.KeyID, k.PublicKey, k.CreatedTS, k.ExpiredTS)
	if err != nil {
		return err
	}
	return ifNoRows(res, storage.ErrConflict)
}

// SigningKeys implements storage.ServerKeyStore.
func (db *DB) SigningKeys(ctx context.Context) ([]storage.SigningKey, error) {
	rows, err := db.reader.QueryContext(ctx, db.q(qSigningKeys))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	keys := []storage.SigningKey{}
	for rows.Next() {
		var k storage.SigningKey
		if err := rows.Scan(&k.KeyID, &k.PublicKey, &k.CreatedTS, &k.ExpiredTS); err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// ExpireSigningKey implements storage.ServerKeyStore.
func (db *DB) ExpireSigningKey(ctx context.Context, keyID string, expiredTS int64) error {
	return execOne(ctx, db.writer, db.q(qExpireSigningKey), keyID, expiredTS)
}
