package sqlstore

import (
	"context"

	"github.com/warbler-im/warbler/storage"
)

const (
	// A user without a profile row (say, one an appservice creates later
	// through another path) reads as an empty profile.
	qGetProfile = `SELECT u.user_id, COALESCE(p.displayname, ''), COALESCE(p.avatar_url, '')
		FROM users u LEFT JOIN profiles p ON p.user_nid = u.user_nid
		WHERE u.user_id = $1`
	// The WHERE clause also settles SQLite's parse of INSERT … SELECT … ON
	// CONFLICT, which otherwise reads ON as a join constraint.
	qSetDisplayName = `INSERT INTO profiles (user_nid, displayname)
		SELECT user_nid, $2 FROM users WHERE user_id = $1
		ON CONFLICT (user_nid) DO UPDATE SET displayname = excluded.displayname`
	qSetAvatarURL = `INSERT INTO profiles (user_nid, avatar_url)
		SELECT user_nid, $2 FROM users WHERE user_id = $1
		ON CONFLICT (user_nid) DO UPDATE SET avatar_url = excluded.avatar_url`
)

// GetProfile implements storage.AccountStore.
func (db *DB) GetProfile(ctx context.Context, userID string) (storage.Profile, error) {
	var p storage.Profile
	err := db.reader.QueryRowContext(ctx, db.q(qGetProfile), userID).Scan(&p.UserID, &p.DisplayName, &p.AvatarURL)
	return p, notFound(err)
}

// SetDisplayName implements storage.AccountStore.
func (db *DB) SetDisplayName(ctx context.Context, userID, displayName string) error {
	return execOne(ctx, db.writer, db.q(qSetDisplayName), userID, displayName)
}

// SetAvatarURL implements storage.AccountStore.
func (db *DB) SetAvatarURL(ctx context.Context, userID, avatarURL string) error {
	return execOne(ctx, db.writer, db.q(qSetAvatarURL), userID, avatarURL)
}
