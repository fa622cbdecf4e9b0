package clientapi

import (
	"context"
	"encoding/json"
)

// Ignoring users (client-server API, "Ignoring Users"): the users listed
// in a user's m.ignored_user_list account data send them no timeline
// events and no invites through /sync; their state events still come, so
// a room does not look different for having ignored its sender.

const ignoredUserListType = "m.ignored_user_list"

// ignoresSender reports whether the syncing user ignores sender. The list
// is read once per sync.
func (v *syncView) ignoresSender(ctx context.Context, sender string) bool {
	if v.ignored == nil {
		v.ignored = v.s.api.ignoredUsers(ctx, v.req.userID)
	}
	return v.ignored[sender]
}

// ignoredUsers reads userID's ignore list; an unreadable or malformed one
// ignores nobody (it never hides what the user did not ask to hide).
func (a *API) ignoredUsers(ctx context.Context, userID string) map[string]bool {
	content, err := a.Store.AccountData(ctx, userID, "", ignoredUserListType)
	if err != nil {
		return map[string]bool{} // none stored (ErrNotFound) or unreadable
	}
	var list struct {
		IgnoredUsers map[string]json.RawMessage `json:"ignored_users"`
	}
	if json.Unmarshal(content, &list) != nil {
		return map[string]bool{}
	}
	out := make(map[string]bool, len(list.IgnoredUsers))
	for u := range list.IgnoredUsers {
		out[u] = true
	}
	return out
}
