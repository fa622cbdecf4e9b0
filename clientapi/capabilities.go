package clientapi

import (
	"net/http"

	"github.com/warbler-im/warbler/mxcore"
)

type booleanCapability struct {
	Enabled bool `json:"enabled"`
}

// capabilities tells clients what this server lets them do. Third-party
// identifiers cannot be added (threepid.go); login tokens only when the
// configuration turns them on; account moderation only for admins. A
// suspended account may not change its profile (moderation.go).
func (a *API) capabilities(r *http.Request) (any, error) {
	profile := !roomCaller(r).Suspended
	caps := map[string]any{
		"m.change_password": booleanCapability{true},
		"m.set_displayname": booleanCapability{profile},
		"m.set_avatar_url":  booleanCapability{profile},
		"m.3pid_changes":    booleanCapability{false},
		"m.get_login_token": booleanCapability{a.LoginTokens.Enabled},
		"m.profile_fields":  map[string]any{"enabled": profile, "allowed": editableProfileFields},
		"m.room_versions":   roomVersionsCapability(),
	}
	moderation, err := a.moderationCapability(r)
	if err != nil {
		return nil, err
	}
	if moderation != nil {
		caps["m.account_moderation"] = moderation
	}
	return map[string]any{"capabilities": caps}, nil
}

func roomVersionsCapability() map[string]any {
	available := map[string]string{}
	for _, id := range mxcore.KnownRoomVersions() {
		stability := "unstable"
		if v, _ := mxcore.GetRoomVersion(id); v.Stable {
			stability = "stable"
		}
		available[id] = stability
	}
	return map[string]any{"default": mxcore.DefaultRoomVersion, "available": available}
}
