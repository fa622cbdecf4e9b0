package clientapi

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

// POST /user_directory/search (client-server API, "User directory"). By
// default a user finds the users they share a room with and the members
// of the rooms published in the public room directory; with
// user_directory.search_all_users, every local user.

const (
	defaultUserSearchLimit = 10
	maxUserSearchLimit     = 100
	// maxUserSearchRooms and maxUserSearchCandidates bound the rooms and
	// users one search looks at; maxProfileMatches the local profiles it
	// reads.
	maxUserSearchRooms      = 2000
	maxUserSearchCandidates = 50000
	maxProfileMatches       = 5000
)

type userSearchRequest struct {
	SearchTerm *string `json:"search_term"`
	Limit      int     `json:"limit"`
}

type userSearchResult struct {
	UserID      string `json:"user_id"`
	DisplayName string `json:"display_name,omitempty"`
	AvatarURL   string `json:"avatar_url,omitempty"`
}

// searchUserDirectory implements POST /user_directory/search.
func (a *API) searchUserDirectory(r *http.Request) (any, error) {
	var req userSearchRequest
	if err := mxhttp.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	if req.SearchTerm == nil {
		return nil, mxcore.MissingParam("search_term is required")
	}
	term := strings.TrimSpace(*req.SearchTerm)
	if len(term) > maxSearchTermLength {
		return nil, mxcore.InvalidParam("search_term is too long")
	}
	limit := userSearchLimit(req.Limit)
	ctx := r.Context()
	var visible map[string]bool // nil: everyone (search_all_users)
	if !a.SearchAllUsers {
		var err error
		if visible, err = a.searchableUsers(ctx, roomCaller(r).UserID); err != nil {
			return nil, err
		}
	}
	results, err := a.matchUsers(ctx, term, visible)
	if err != nil {
		return nil, err
	}
	limited := len(results) > limit
	return map[string]any{"results": results[:min(len(results), limit)], "limited": limited}, nil
}

func userSearchLimit(n int) int {
	if n <= 0 {
		return defaultUserSearchLimit
	}
	return min(n, maxUserSearchLimit)
}

// searchableUsers are the users the searcher may find: members of the
// rooms the searcher is joined to and of the published rooms.
func (a *API) searchableUsers(ctx context.Context, searcher string) (map[string]bool, error) {
	joined, err := a.Store.RoomsForUser(ctx, searcher, storage.MembershipJoin)
	if err != nil {
		return nil, err
	}
	published, err := a.Store.PublishedRooms(ctx, maxDirectoryRooms)
	if err != nil {
		return nil, err
	}
	rooms := append(joined[:min(len(joined), maxUserSearchRooms):min(len(joined), maxUserSearchRooms)], published...)
	users := map[string]bool{}
	for _, roomID := range rooms {
		members, err := a.Store.RoomMembers(ctx, roomID, storage.MembershipJoin)
		if err != nil {
			return nil, err
		}
		for _, u := range members {
			if len(users) >= maxUserSearchCandidates {
				return users, nil
			}
			users[u] = true
		}
	}
	return users, nil
}

// matchUsers finds the users whose ID or display name contains term,
// among visible (nil: all local users): local users by their profiles,
// other servers' users (who have no profile here) by their IDs. The
// results are ordered as rankUserResults says.
func (a *API) matchUsers(ctx context.Context, term string, visible map[string]bool) ([]userSearchResult, error) {
	profiles, err := a.Store.SearchProfiles(ctx, term, maxProfileMatches)
	if err != nil {
		return nil, err
	}
	results := []userSearchResult{}
	for _, p := range profiles {
		if visible == nil || visible[p.UserID] {
			results = append(results, userSearchResult{UserID: p.UserID, DisplayName: p.DisplayName, AvatarURL: p.AvatarURL})
		}
	}
	for u := range visible {
		if id, err := mxcore.ParseUserID(u); err == nil && id.Server != a.ServerName && searchMatches(term, u) {
			results = append(results, userSearchResult{UserID: u})
		}
	}
	rankUserResults(results, term)
	return results, nil
}

// rankUserResults orders results: display names or localparts that start
// with the term first, then users with profile information, then by user
// ID, so the order is stable.
func rankUserResults(results []userSearchResult, term string) {
	term = strings.ToLower(term)
	rank := func(r userSearchResult) int {
		n := 2
		localpart := strings.TrimPrefix(strings.ToLower(r.UserID), "@")
		if strings.HasPrefix(strings.ToLower(r.DisplayName), term) || strings.HasPrefix(localpart, term) {
			n = 0
		}
		if r.DisplayName == "" && r.AvatarURL == "" {
			n++
		}
		return n
	}
	slices.SortStableFunc(results, func(x, y userSearchResult) int {
		if d := rank(x) - rank(y); d != 0 {
			return d
		}
		return strings.Compare(x.UserID, y.UserID)
	})
}
