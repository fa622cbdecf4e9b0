package clientapi

import (
	"net/http"

	"github.com/warbler-im/warbler/mxcore"
)

type booleanCapability struct {
	Enabled bool `json:"enabled"`
}

// capabilities tells clients what this server lets them do. Third-party
// identifiers and login tokens do not exist yet, so those are off.
func (a *API) capabilities(*http.Request) (any, error) {
	return map[string]any{"capabilities": map[string]any{
		"m.change_password": booleanCapability{true},
		"m.set_displayname": booleanCapability{true},
		"m.set_avatar_url":  booleanCapability{true},
		"m.3pid_changes":    booleanCapability{false},
		"m.get_login_token": booleanCapability{false},
		"m.profile_fields":  map[string]any{"enabled": true, "allowed": editableProfileFields},
		"m.room_versions":   roomVersionsCapability(),
	}}, nil
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
