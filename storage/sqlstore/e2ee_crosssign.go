package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/warbler-im/warbler/storage"
)

const (
	qCrossKey       = `SELECT key_json FROM e2ee_cross_signing_keys WHERE user_id = $1 AND key_type = $2`
	qUpsertCrossKey = `INSERT INTO e2ee_cross_signing_keys (user_id, key_type, key_json) VALUES ($1, $2, $3)
		ON CONFLICT (user_id, key_type) DO UPDATE SET key_json = excluded.key_json`
	qUserCrossKeys = `SELECT key_type, key_json FROM e2ee_cross_signing_keys WHERE user_id = $1`
	qDropUserSigs  = `DELETE FROM e2ee_key_signatures WHERE target_user_id = $1 OR signer_user_id = $1`
	qUpsertSig     = `INSERT INTO e2ee_key_signatures (signer_user_id, signer_key_id, target_user_id, target_key_id, signature)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (target_user_id, target_key_id, signer_user_id, signer_key_id)
		DO UPDATE SET signature = excluded.signature`
	qUserSigs = `SELECT signer_user_id, signer_key_id, target_user_id, target_key_id, signature
		FROM e2ee_key_signatures WHERE target_user_id = $1 ORDER BY target_key_id, signer_user_id, signer_key_id`
)

// SetCrossSigningKeys implements storage.E2EEStore.
func (db *DB) SetCrossSigningKeys(ctx context.Context, userID string, keys map[string][]byte) (int64, error) {
	var pos int64
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		if master, ok := keys["master"]; ok {
			var old string
			err := tx.QueryRowContext(ctx, db.q(qCrossKey), userID, "master").Scan(&old)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			if err == nil && old != string(master) {
				// Signatures by or of the old keys mean nothing now.
				if _, err := tx.ExecContext(ctx, db.q(qDropUserSigs), userID); err != nil {
					return err
				}
			}
		}
		for typ, js := range keys {
			if _, err := tx.ExecContext(ctx, db.q(qUpsertCrossKey), userID, typ, string(js)); err != nil {
				return err
			}
		}
		var err error
		pos, err = db.addListChanges(ctx, tx, []string{userID}, "", storage.DeviceListKeys)
		return err
	})
	return pos, err
}

// CrossSigningKeys implements storage.E2EEStore.
func (db *DB) CrossSigningKeys(ctx context.Context, userIDs []string) (map[string]map[string][]byte, error) {
	out := map[string]map[string][]byte{}
	for _, u := range userIDs {
		rows, err := db.reader.QueryContext(ctx, db.q(qUserCrossKeys), u)
		if err != nil {
			return nil, err
		}
		err = scanKeyRows(rows, func(typ string, js []byte) {
			if out[u] == nil {
				out[u] = map[string][]byte{}
			}
			out[u][typ] = js
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// AddKeySignatures implements storage.E2EEStore.
func (db *DB) AddKeySignatures(ctx context.Context, sigs []storage.KeySignature) (int64, error) {
	var pos int64
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		targets := []string{}
		seen := map[string]bool{}
		for _, s := range sigs {
			if _, err := tx.ExecContext(ctx, db.q(qUpsertSig), s.SignerUserID, s.SignerKeyID, s.TargetUserID, s.TargetKeyID, s.Signature); err != nil {
				return err
			}
			if !seen[s.TargetUserID] {
				seen[s.TargetUserID] = true
				targets = append(targets, s.TargetUserID)
			}
		}
		var err error
		pos, err = db.addListChanges(ctx, tx, targets, "", storage.DeviceListKeys)
		return err
	})
	return pos, err
}

// KeySignatures implements storage.E2EEStore.
func (db *DB) KeySignatures(ctx context.Context, targetUserIDs []string) ([]storage.KeySignature, error) {
	var out []storage.KeySignature
	for _, u := range targetUserIDs {
		rows, err := db.reader.QueryContext(ctx, db.q(qUserSigs), u)
		if err != nil {
			return nil, err
		}
		err = func() error {
			defer rows.Close()
			for rows.Next() {
				var s storage.KeySignature
				if err := rows.Scan(&s.SignerUserID, &s.SignerKeyID, &s.TargetUserID, &s.TargetKeyID, &s.Signature); err != nil {
					return err
				}
				out = append(out, s)
			}
			return rows.Err()
		}()
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
