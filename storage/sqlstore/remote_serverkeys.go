package sqlstore

import (
	"context"
	"database/sql"

	"github.com/warbler-im/warbler/storage"
)

const (
	qUpsertRemoteServerKey = `INSERT INTO remote_server_keys
		(server_name, key_id, public_key, valid_until_ts, expired_ts, fetched_ts)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (server_name, key_id) DO UPDATE SET
			public_key = excluded.public_key,
			valid_until_ts = excluded.valid_until_ts,
			expired_ts = excluded.expired_ts,
			fetched_ts = excluded.fetched_ts`
	qUpsertRemoteKeyResponse = `INSERT INTO remote_server_key_responses
		(server_name, response_json, valid_until_ts, fetched_ts)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (server_name) DO UPDATE SET
			response_json = excluded.response_json,
			valid_until_ts = excluded.valid_until_ts,
			fetched_ts = excluded.fetched_ts`
	qRemoteServerKeys = `SELECT key_id, public_key, valid_until_ts, expired_ts, fetched_ts
		FROM remote_server_keys WHERE server_name = $1 ORDER BY key_id`
	qRemoteKeyResponse = `SELECT response_json, valid_until_ts, fetched_ts
		FROM remote_server_key_responses WHERE server_name = $1`
)

// StoreRemoteServerKeys implements storage.RemoteServerKeyStore.
func (db *DB) StoreRemoteServerKeys(ctx context.Context, resp storage.RemoteKeyResponse, keys []storage.RemoteServerKey) error {
	return db.writeTx(ctx, func(tx *sql.Tx) error {
		for _, k := range keys {
			_, err := tx.ExecContext(ctx, db.q(qUpsertRemoteServerKey),
				k.ServerName, k.KeyID, k.PublicKey, k.ValidUntilTS, k.ExpiredTS, k.FetchedTS)
			if err != nil {
				return err
			}
		}
		if len(resp.JSON) == 0 {
			return nil
		}
		_, err := tx.ExecContext(ctx, db.q(qUpsertRemoteKeyResponse),
			resp.ServerName, resp.JSON, resp.ValidUntilTS, resp.FetchedTS)
		return err
	})
}

// RemoteServerKeys implements storage.RemoteServerKeyStore.
func (db *DB) RemoteServerKeys(ctx context.Context, serverName string) ([]storage.RemoteServerKey, error) {
	rows, err := db.reader.QueryContext(ctx, db.q(qRemoteServerKeys), serverName)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	keys := []storage.RemoteServerKey{}
	for rows.Next() {
		k := storage.RemoteServerKey{ServerName: serverName}
		if err := rows.Scan(&k.KeyID, &k.PublicKey, &k.ValidUntilTS, &k.ExpiredTS, &k.FetchedTS); err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// RemoteKeyResponse implements storage.RemoteServerKeyStore.
func (db *DB) RemoteKeyResponse(ctx context.Context, serverName string) (storage.RemoteKeyResponse, error) {
	resp := storage.RemoteKeyResponse{ServerName: serverName}
	err := db.reader.QueryRowContext(ctx, db.q(qRemoteKeyResponse), serverName).
		Scan(&resp.JSON, &resp.ValidUntilTS, &resp.FetchedTS)
	if err != nil {
		return storage.RemoteKeyResponse{}, notFound(err)
	}
	return resp, nil
}
