package clientapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

// Room tags (client-server API, "Room Tagging") are the room account data
// event m.tag, {"tags": {tag: {order?}}}, so they reach /sync as account
// data.

const (
	tagAccountDataType = "m.tag"
	maxTagBytes        = 255
	maxTagsPerRoom     = 100
	maxTagBodyBytes    = 4096
)

type tagContent struct {
	Tags map[string]json.RawMessage `json:"tags"`
}

// tagTarget reads the user, room and (if the path has one) the tag.
func tagTarget(r *http.Request) (userID, roomID, tag string, err error) {
	if userID, err = ownUserParam(r, "change tags"); err != nil {
		return
	}
	if roomID, err = roomIDParam(r); err != nil {
		return
	}
	if chi.URLParam(r, "tag") != "" {
		tag = roomPathParam(r, "tag")
		if len(tag) > maxTagBytes {
			err = mxcore.InvalidParam("Tags are at most 255 bytes")
		}
	}
	return
}

// roomTags reads the room's m.tag content; none is an empty set.
func (a *API) roomTags(r *http.Request, userID, roomID string) (tagContent, error) {
	tags := tagContent{Tags: map[string]json.RawMessage{}}
	raw, err := a.Store.AccountData(r.Context(), userID, roomID, tagAccountDataType)
	if errors.Is(err, storage.ErrNotFound) {
		return tags, nil
	}
	if err != nil {
		return tags, err
	}
	// Stored by this file; unreadable content counts as no tags rather
	// than locking the user out of fixing it.
	if json.Unmarshal(raw, &tags) != nil || tags.Tags == nil {
		tags.Tags = map[string]json.RawMessage{}
	}
	return tags, nil
}

// getTags is GET /user/{userId}/rooms/{roomId}/tags.
func (a *API) getTags(r *http.Request) (any, error) {
	userID, roomID, _, err := tagTarget(r)
	if err != nil {
		return nil, err
	}
	return a.roomTags(r, userID, roomID)
}

// putTag is PUT /user/{userId}/rooms/{roomId}/tags/{tag}.
func (a *API) putTag(r *http.Request) (any, error) {
	userID, roomID, tag, err := tagTarget(r)
	if err != nil {
		return nil, err
	}
	body, err := readObjectBody(r, maxTagBodyBytes)
	if err != nil {
		return nil, err
	}
	if err := checkTagOrder(body); err != nil {
		return nil, err
	}
	return struct{}{}, a.changeTags(r, userID, roomID, func(tags map[string]json.RawMessage) error {
		if _, ok := tags[tag]; !ok && len(tags) >= maxTagsPerRoom {
			return mxcore.InvalidParam(fmt.Sprintf("A room has at most %d tags", maxTagsPerRoom))
		}
		tags[tag] = body
		return nil
	})
}

// deleteTag is DELETE /user/{userId}/rooms/{roomId}/tags/{tag}; removing
// a tag that is not set succeeds.
func (a *API) deleteTag(r *http.Request) (any, error) {
	userID, roomID, tag, err := tagTarget(r)
	if err != nil {
		return nil, err
	}
	return struct{}{}, a.changeTags(r, userID, roomID, func(tags map[string]json.RawMessage) error {
		delete(tags, tag)
		return nil
	})
}

// changeTags applies change to the room's tags under the user's lock, so
// two concurrent changes do not lose one another.
func (a *API) changeTags(r *http.Request, userID, roomID string, change func(map[string]json.RawMessage) error) error {
	defer a.userData.lockUser(userID)()
	tags, err := a.roomTags(r, userID, roomID)
	if err != nil {
		return err
	}
	if err := change(tags.Tags); err != nil {
		return err
	}
	content, err := json.Marshal(tags)
	if err != nil {
		return err
	}
	return a.setAccountData(r.Context(), userID, roomID, tagAccountDataType, content)
}

// checkTagOrder: order, if given, is a number in [0, 1].
func checkTagOrder(body json.RawMessage) error {
	var fields map[string]json.RawMessage
	if err := mxhttp.DecodeJSONBytes(body, &fields); err != nil {
		return err
	}
	raw, ok := fields["order"]
	if !ok {
		return nil
	}
	var order float64
	if err := json.Unmarshal(raw, &order); err != nil || string(raw) == "null" || order < 0 || order > 1 {
		return mxcore.InvalidParam("order must be a number between 0 and 1")
	}
	return nil
}
