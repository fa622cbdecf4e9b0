package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/warbler-im/warbler/storage"
)

const (
	qMediaColumns = `server_name, media_id, uploader, content_type, filename, size, sha256,
		created_ts, uploaded_ts, unused_expires_ts, quarantined`
	qAddMedia = `INSERT INTO media (` + qMediaColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT DO NOTHING`
	qGetMedia = `SELECT ` + qMediaColumns + ` FROM media WHERE server_name = $1 AND media_id = $2`
	// Lapsed reservations are dropped before counting, so the bound counts
	// only uploads that can still happen.
	qDropLapsedPending = `DELETE FROM media
		WHERE uploader = $1 AND uploaded_ts = 0 AND unused_expires_ts <= $2`
	qCountPending = `SELECT COUNT(*) FROM media WHERE uploader = $1 AND uploaded_ts = 0`
	// The uploaded_ts = 0 condition makes completing a record and checking
	// that it was still pending one step, so two racing uploads cannot both
	// win.
	qCompleteMedia = `UPDATE media
		SET content_type = $3, filename = $4, size = $5, sha256 = $6, uploaded_ts = $7, unused_expires_ts = 0
		WHERE server_name = $1 AND media_id = $2 AND uploaded_ts = 0`
	qMediaExists        = `SELECT COUNT(*) FROM media WHERE server_name = $1 AND media_id = $2`
	qSetMediaQuarantine = `UPDATE media SET quarantined = $3 WHERE server_name = $1 AND media_id = $2`

	qPutThumbnail = `INSERT INTO media_thumbnails
		(server_name, media_id, width, height, method, content_type, size, sha256, created_ts)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (server_name, media_id, width, height, method) DO UPDATE SET
		content_type = excluded.content_type, size = excluded.size,
		sha256 = excluded.sha256, created_ts = excluded.created_ts`
	qGetThumbnail = `SELECT server_name, media_id, width, height, method, content_type, size, sha256, created_ts
		FROM media_thumbnails
		WHERE server_name = $1 AND media_id = $2 AND width = $3 AND height = $4 AND method = $5`
)

var errMediaKey = errors.New("storage: media needs a server name and a media ID")

func mediaArgs(m storage.Media) []any {
	return []any{m.ServerName, m.MediaID, m.Uploader, m.ContentType, m.Filename, m.Size, m.SHA256,
		m.CreatedTS, m.UploadedTS, m.UnusedExpiresTS, m.Quarantined}
}

// AddMedia implements storage.MediaStore.
func (db *DB) AddMedia(ctx context.Context, m storage.Media) error {
	if m.ServerName == "" || m.MediaID == "" {
		return errMediaKey
	}
	res, err := db.writer.ExecContext(ctx, db.q(qAddMedia), mediaArgs(m)...)
	if err != nil {
		return err
	}
	return ifNoRows(res, storage.ErrConflict)
}

// ReserveMedia implements storage.MediaStore. Counting and inserting in
// one write transaction keeps concurrent creates by one user from passing
// the bound together.
func (db *DB) ReserveMedia(ctx context.Context, m storage.Media, maxPending int, nowTS int64) error {
	if m.ServerName == "" || m.MediaID == "" {
		return errMediaKey
	}
	m.UploadedTS, m.SHA256 = 0, ""
	return db.writeTx(ctx, func(tx *sql.Tx) error {
		if err := db.lockPending(ctx, tx, m.Uploader); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q(qDropLapsedPending), m.Uploader, nowTS); err != nil {
			return err
		}
		var pending int
		if err := tx.QueryRowContext(ctx, db.q(qCountPending), m.Uploader).Scan(&pending); err != nil {
			return err
		}
		if pending >= maxPending {
			return storage.ErrPendingLimit
		}
		res, err := tx.ExecContext(ctx, db.q(qAddMedia), mediaArgs(m)...)
		if err != nil {
			return err
		}
		return ifNoRows(res, storage.ErrConflict)
	})
}

// lockPending serialises reservations by one user. SQLite needs nothing:
// its write transactions already exclude each other. PostgreSQL's default
// isolation would let two transactions count the same rows, so they take
// a transaction-scoped advisory lock on the user first.
func (db *DB) lockPending(ctx context.Context, tx *sql.Tx, uploader string) error {
	if db.dialect.Name != Postgres.Name {
		return nil
	}
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(72628302, hashtext($1))`, uploader)
	return err
}

// CompleteMedia implements storage.MediaStore.
func (db *DB) CompleteMedia(ctx context.Context, m storage.Media) error {
	return db.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(qCompleteMedia),
			m.ServerName, m.MediaID, m.ContentType, m.Filename, m.Size, m.SHA256, m.UploadedTS)
		if err != nil {
			return err
		}
		if err := ifNoRows(res, storage.ErrConflict); err == nil {
			return nil
		}
		// Nothing pending matched: either there is no such record, or it
		// already has content.
		if err := mediaExists(ctx, db, tx, m.ServerName, m.MediaID); err != nil {
			return err
		}
		return storage.ErrConflict
	})
}

// mediaExists returns storage.ErrNotFound unless the record exists.
func mediaExists(ctx context.Context, db *DB, tx *sql.Tx, serverName, mediaID string) error {
	var n int
	if err := tx.QueryRowContext(ctx, db.q(qMediaExists), serverName, mediaID).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return storage.ErrNotFound
	}
	return nil
}

// GetMedia implements storage.MediaStore.
func (db *DB) GetMedia(ctx context.Context, serverName, mediaID string) (storage.Media, error) {
	var m storage.Media
	err := db.reader.QueryRowContext(ctx, db.q(qGetMedia), serverName, mediaID).Scan(
		&m.ServerName, &m.MediaID, &m.Uploader, &m.ContentType, &m.Filename, &m.Size, &m.SHA256,
		&m.CreatedTS, &m.UploadedTS, &m.UnusedExpiresTS, &m.Quarantined)
	if err != nil {
		return storage.Media{}, notFound(err)
	}
	return m, nil
}

// SetMediaQuarantined implements storage.MediaStore.
func (db *DB) SetMediaQuarantined(ctx context.Context, serverName, mediaID string, quarantined bool) error {
	return execOne(ctx, db.writer, db.q(qSetMediaQuarantine), serverName, mediaID, quarantined)
}

// PutMediaThumbnail implements storage.MediaStore. The source is checked
// first so that a missing one is ErrNotFound rather than a driver-specific
// foreign key error.
func (db *DB) PutMediaThumbnail(ctx context.Context, t storage.MediaThumbnail) error {
	return db.writeTx(ctx, func(tx *sql.Tx) error {
		if err := mediaExists(ctx, db, tx, t.ServerName, t.MediaID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, db.q(qPutThumbnail), t.ServerName, t.MediaID, t.Width, t.Height,
			t.Method, t.ContentType, t.Size, t.SHA256, t.CreatedTS)
		return err
	})
}

// GetMediaThumbnail implements storage.MediaStore.
func (db *DB) GetMediaThumbnail(ctx context.Context, serverName, mediaID string, width, height int, method string) (storage.MediaThumbnail, error) {
	var t storage.MediaThumbnail
	err := db.reader.QueryRowContext(ctx, db.q(qGetThumbnail), serverName, mediaID, width, height, method).Scan(
		&t.ServerName, &t.MediaID, &t.Width, &t.Height, &t.Method, &t.ContentType, &t.Size, &t.SHA256, &t.CreatedTS)
	if err != nil {
		return storage.MediaThumbnail{}, notFound(err)
	}
	return t, nil
}
