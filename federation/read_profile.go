package federation

import (
	"context"
	"errors"
	"net/http"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

// ProfileReader is the storage /query/profile reads.
type ProfileReader interface {
	GetUser(ctx context.Context, userID string) (storage.User, error)
	GetProfile(ctx context.Context, userID string) (storage.Profile, error)
}

// serveProfile implements GET /v1/query/profile?user_id=&field=: the
// public profile of a local user, or only the field asked for.
// Deactivated and unknown users have none (404).
func (rt *Routes) serveProfile(r *http.Request) (*Egress, error) {
	q := r.URL.Query()
	userID, field := q.Get("user_id"), q.Get("field")
	if userID == "" {
		return nil, mxcore.MissingParam("user_id is required")
	}
	u, err := mxcore.ParseUserID(userID)
	if err != nil {
		return nil, mxcore.InvalidParam("user_id is not a user ID")
	}
	if u.Server != rt.Keys.ServerName {
		return nil, mxcore.InvalidParam("user_id is not a user of this server")
	}
	fields, err := rt.publicProfile(r.Context(), userID)
	if err != nil {
		return nil, err
	}
	if field != "" {
		value, ok := fields[field]
		if !ok {
			return nil, mxcore.NotFound("The user has no " + field)
		}
		fields = map[string]string{field: value}
	}
	return &Egress{UserID: userID, JSON: fields}, nil
}

// publicProfile is the user's set profile fields.
func (rt *Routes) publicProfile(ctx context.Context, userID string) (map[string]string, error) {
	profiles := rt.Reads.Profiles
	user, err := profiles.GetUser(ctx, userID)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && user.Deactivated) {
		return nil, mxcore.NotFound("Profile not found")
	}
	if err != nil {
		return nil, err
	}
	p, err := profiles.GetProfile(ctx, userID)
	if err != nil {
		return nil, err
	}
	fields := map[string]string{}
	if p.DisplayName != "" {
		fields["displayname"] = p.DisplayName
	}
	if p.AvatarURL != "" {
		fields["avatar_url"] = p.AvatarURL
	}
	return fields, nil
}
