package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/warbler-im/warbler/storage"
)

const (
	qCreateRegToken = `INSERT INTO registration_tokens (token, uses_allowed, pending, completed, expiry_ts, created_ts)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT DO NOTHING`
	qSelectRegTokens = `SELECT token, uses_allowed, pending, completed, expiry_ts, created_ts FROM registration_tokens`
	qGetRegToken     = qSelectRegTokens + ` WHERE token = $1`
	qListRegTokens   = qSelectRegTokens + ` ORDER BY created_ts, token`
	qDeleteRegToken  = `DELETE FROM registration_tokens WHERE token = $1`
	// Reserving checks usability and takes the use in one statement, so two
	// sign-ups racing for a token's last use cannot both get it.
	qReserveRegToken = `UPDATE registration_tokens SET pending = pending + 1
		WHERE token = $1
		AND (expiry_ts = 0 OR expiry_ts > $2)
		AND (uses_allowed IS NULL OR pending + completed < uses_allowed)`
	qReleaseRegToken = `UPDATE registration_tokens
		SET pending = CASE WHEN pending > 0 THEN pending - 1 ELSE 0 END
		WHERE token = $1`
	qResetRegTokens = `UPDATE registration_tokens SET pending = 0 WHERE pending <> 0`
)

var errEmptyRegToken = errors.New("storage: registration token must not be empty")

// CreateRegistrationToken implements storage.AccountStore.
func (db *DB) CreateRegistrationToken(ctx context.Context, t storage.RegistrationToken) error {
	if t.Token == "" {
		return errEmptyRegToken
	}
	var uses sql.NullInt64
	if t.UsesAllowed != nil {
		uses = sql.NullInt64{Int64: *t.UsesAllowed, Valid: true}
	}
	res, err := db.writer.ExecContext(ctx, db.q(qCreateRegToken),
		t.Token, uses, t.Pending, t.Completed, t.ExpiryTS, t.CreatedTS)
	if err != nil {
		return err
	}
	return ifNoRows(res, storage.ErrConflict)
}

// GetRegistrationToken implements storage.AccountStore.
func (db *DB) GetRegistrationToken(ctx context.Context, token string) (storage.RegistrationToken, error) {
	t, err := scanRegToken(db.reader.QueryRowContext(ctx, db.q(qGetRegToken), token))
	return t, notFound(err)
}

// ListRegistrationTokens implements storage.AccountStore.
func (db *DB) ListRegistrationTokens(ctx context.Context) ([]storage.RegistrationToken, error) {
	rows, err := db.reader.QueryContext(ctx, db.q(qListRegTokens))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	tokens := []storage.RegistrationToken{}
	for rows.Next() {
		t, err := scanRegToken(rows)
		if err != nil {
			return nil, err
		}
		tokens = append(tokens, t)
	}
	return tokens, rows.Err()
}

// DeleteRegistrationToken implements storage.AccountStore.
func (db *DB) DeleteRegistrationToken(ctx context.Context, token string) error {
	return execOne(ctx, db.writer, db.q(qDeleteRegToken), token)
}

// ReserveRegistrationToken implements storage.AccountStore.
func (db *DB) ReserveRegistrationToken(ctx context.Context, token string, nowTS int64) error {
	return execOne(ctx, db.writer, db.q(qReserveRegToken), token, nowTS)
}

// ReleaseRegistrationToken implements storage.AccountStore.
func (db *DB) ReleaseRegistrationToken(ctx context.Context, token string) error {
	return execOne(ctx, db.writer, db.q(qReleaseRegToken), token)
}

// ResetPendingRegistrations implements storage.AccountStore.
func (db *DB) ResetPendingRegistrations(ctx context.Context) error {
	_, err := db.writer.ExecContext(ctx, db.q(qResetRegTokens))
	return err
}

func scanRegToken(row rowScanner) (storage.RegistrationToken, error) {
	var t storage.RegistrationToken
	var uses sql.NullInt64
	if err := row.Scan(&t.Token, &uses, &t.Pending, &t.Completed, &t.ExpiryTS, &t.CreatedTS); err != nil {
		return storage.RegistrationToken{}, err
	}
	if uses.Valid {
		n := uses.Int64
		t.UsesAllowed = &n
	}
	return t, nil
}
