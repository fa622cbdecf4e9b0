package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/warbler-im/warbler/storage"
)

const (
	qSetUserLocked    = `UPDATE users SET locked = $2 WHERE user_id = $1`
	qSetUserSuspended = `UPDATE users SET suspended = $2 WHERE user_id = $1`

	qAddUserReport = `INSERT INTO user_reports (target_user_id, user_id, reason, received_ts) VALUES ($1, $2, $3, $4)`
	qUserReports   = `SELECT target_user_id, user_id, reason, received_ts FROM user_reports
		ORDER BY report_nid DESC LIMIT $1`

	qDeleteExpiredLoginTokens = `DELETE FROM login_tokens WHERE expires_ts <= $1`
	qAddLoginToken            = `INSERT INTO login_tokens (token_hash, user_id, expires_ts) VALUES ($1, $2, $3)`
	// Deleting and reading in one statement makes a token single-use even
	// when two logins present it at once: only one of them gets the row.
	qTakeLoginToken = `DELETE FROM login_tokens WHERE token_hash = $1 RETURNING user_id, expires_ts`
)

// SetUserLocked implements storage.ModerationStore.
func (db *DB) SetUserLocked(ctx context.Context, userID string, locked bool) error {
	return db.tokens.writeAll(func() error {
		return execOne(ctx, db.writer, db.q(qSetUserLocked), userID, locked)
	})
}

// SetUserSuspended implements storage.ModerationStore.
func (db *DB) SetUserSuspended(ctx context.Context, userID string, suspended bool) error {
	return db.tokens.writeAll(func() error {
		return execOne(ctx, db.writer, db.q(qSetUserSuspended), userID, suspended)
	})
}

// AddUserReport implements storage.ReportStore.
func (db *DB) AddUserReport(ctx context.Context, r storage.UserReport) error {
	_, err := db.writer.ExecContext(ctx, db.q(qAddUserReport), r.TargetUserID, r.UserID, r.Reason, r.ReceivedTS)
	return err
}

// UserReports implements storage.ReportStore.
func (db *DB) UserReports(ctx context.Context, limit int) ([]storage.UserReport, error) {
	rows, err := db.reader.QueryContext(ctx, db.q(qUserReports), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []storage.UserReport
	for rows.Next() {
		var r storage.UserReport
		if err := rows.Scan(&r.TargetUserID, &r.UserID, &r.Reason, &r.ReceivedTS); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// AddLoginToken implements storage.LoginTokenStore.
func (db *DB) AddLoginToken(ctx context.Context, tokenHash []byte, userID string, expiresTS, nowTS int64) error {
	if _, err := db.writer.ExecContext(ctx, db.q(qDeleteExpiredLoginTokens), nowTS); err != nil {
		return err
	}
	_, err := db.writer.ExecContext(ctx, db.q(qAddLoginToken), tokenHash, userID, expiresTS)
	return err
}

// TakeLoginToken implements storage.LoginTokenStore.
func (db *DB) TakeLoginToken(ctx context.Context, tokenHash []byte, nowTS int64) (string, error) {
	var user string
	var expiresTS int64
	err := db.writer.QueryRowContext(ctx, db.q(qTakeLoginToken), tokenHash).Scan(&user, &expiresTS)
	if errors.Is(err, sql.ErrNoRows) || err == nil && expiresTS <= nowTS {
		return "", storage.ErrNotFound
	}
	return user, err
}
