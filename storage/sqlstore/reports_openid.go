package sqlstore

import (
	"context"
	"database/sql"

	"github.com/warbler-im/warbler/storage"
)

const (
	qAddReport = `INSERT INTO content_reports (room_id, event_id, user_id, reason, score, received_ts)
		VALUES ($1, $2, $3, $4, $5, $6)`
	qReports = `SELECT room_id, event_id, user_id, reason, score, received_ts FROM content_reports
		ORDER BY report_nid DESC LIMIT $1`
	qDeleteExpiredOpenID = `DELETE FROM openid_tokens WHERE expires_ts <= $1`
	qAddOpenID           = `INSERT INTO openid_tokens (token_hash, user_id, expires_ts) VALUES ($1, $2, $3)`
	qOpenIDUser          = `SELECT user_id FROM openid_tokens WHERE token_hash = $1 AND expires_ts > $2`
)

// AddContentReport implements storage.ReportStore.
func (db *DB) AddContentReport(ctx context.Context, r storage.ContentReport) error {
	var score sql.NullInt64
	if r.Score != nil {
		score = sql.NullInt64{Int64: int64(*r.Score), Valid: true}
	}
	_, err := db.writer.ExecContext(ctx, db.q(qAddReport), r.RoomID, r.EventID, r.UserID, r.Reason, score, r.ReceivedTS)
	return err
}

// ContentReports implements storage.ReportStore.
func (db *DB) ContentReports(ctx context.Context, limit int) ([]storage.ContentReport, error) {
	rows, err := db.reader.QueryContext(ctx, db.q(qReports), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []storage.ContentReport
	for rows.Next() {
		var r storage.ContentReport
		var score sql.NullInt64
		if err := rows.Scan(&r.RoomID, &r.EventID, &r.UserID, &r.Reason, &score, &r.ReceivedTS); err != nil {
			return nil, err
		}
		if score.Valid {
			s := int(score.Int64)
			r.Score = &s
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// AddOpenIDToken implements storage.OpenIDStore.
func (db *DB) AddOpenIDToken(ctx context.Context, tokenHash []byte, userID string, expiresTS, nowTS int64) error {
	if _, err := db.writer.ExecContext(ctx, db.q(qDeleteExpiredOpenID), nowTS); err != nil {
		return err
	}
	_, err := db.writer.ExecContext(ctx, db.q(qAddOpenID), tokenHash, userID, expiresTS)
	return err
}

// OpenIDTokenUser implements storage.OpenIDStore.
func (db *DB) OpenIDTokenUser(ctx context.Context, tokenHash []byte, nowTS int64) (string, error) {
	var user string
	err := db.reader.QueryRowContext(ctx, db.q(qOpenIDUser), tokenHash, nowTS).Scan(&user)
	return user, notFound(err)
}
