package clientapi

import (
	"encoding/base64"
	"net/http"
	"slices"
	"sort"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

// mutualRoomsPage bounds one answer of GET /mutual_rooms; next_batch
// pages through the rest.
const mutualRoomsPage = 100

// mutualRooms implements GET /_matrix/client/v1/mutual_rooms: the rooms
// both the caller and user_id are joined to, in room ID order. A user this
// server knows nothing of shares no room, so the answer is an empty list,
// not an error, as the spec asks (and nothing tells whether they exist).
// next_batch is the last room ID of the page, encoded so clients treat it
// as opaque.
func (a *API) mutualRooms(r *http.Request) (any, error) {
	caller := roomCaller(r).UserID
	q := r.URL.Query()
	target := q.Get("user_id")
	if target == "" {
		return nil, mxcore.MissingParam("Missing user_id")
	}
	if _, err := mxcore.ParseUserID(target); err != nil {
		return nil, mxcore.InvalidParam("The user ID provided was invalid")
	}
	if target == caller {
		return nil, mxcore.InvalidParam("Mutual rooms with yourself are your joined rooms")
	}
	after := ""
	if from := q.Get("from"); from != "" {
		raw, err := base64.RawURLEncoding.DecodeString(from)
		if err != nil || !validRoomID(string(raw)) {
			return nil, mxcore.InvalidParam("Invalid from token")
		}
		after = string(raw)
	}
	shared, err := a.sharedJoinedRooms(r, caller, target)
	if err != nil {
		return nil, err
	}
	start := sort.SearchStrings(shared, after)
	if start < len(shared) && shared[start] == after {
		start++
	}
	page := shared[start:min(len(shared), start+mutualRoomsPage)]
	out := map[string]any{"joined": page, "count": len(shared)}
	if start+len(page) < len(shared) {
		out["next_batch"] = base64.RawURLEncoding.EncodeToString([]byte(page[len(page)-1]))
	}
	return out, nil
}

func validRoomID(id string) bool {
	_, err := mxcore.ParseRoomID(id)
	return err == nil
}

// sharedJoinedRooms returns, sorted, the rooms both users are joined to.
func (a *API) sharedJoinedRooms(r *http.Request, caller, target string) ([]string, error) {
	mine, err := a.Store.RoomsForUser(r.Context(), caller, storage.MembershipJoin)
	if err != nil {
		return nil, err
	}
	theirs, err := a.Store.RoomsForUser(r.Context(), target, storage.MembershipJoin)
	if err != nil {
		return nil, err
	}
	slices.Sort(theirs)
	shared := []string{}
	for _, room := range mine {
		if _, found := slices.BinarySearch(theirs, room); found {
			shared = append(shared, room)
		}
	}
	slices.Sort(shared)
	return shared, nil
}
