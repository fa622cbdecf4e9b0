package clientapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

// Filters (client-server API, "Filtering"): uploaded ones are stored
// (storage.FilterStore) as the client sent them, compacted; /sync also
// takes them inline.

const (
	maxFilterBytes       = 4096
	defaultTimelineLimit = 10
	maxTimelineLimit     = 100
)

// syncFilter is a Filter; only the parts /sync applies are decoded, the
// rest is kept in the raw JSON the ID carries.
type syncFilter struct {
	Room        *roomFilter      `json:"room,omitempty"`
	AccountData *roomEventFilter `json:"account_data,omitempty"` // userdata_filter.go
	Presence    *roomEventFilter `json:"presence,omitempty"`     // userdata_filter.go
}

type roomFilter struct {
	Rooms        *[]string        `json:"rooms,omitempty"`
	NotRooms     []string         `json:"not_rooms,omitempty"`
	Timeline     *roomEventFilter `json:"timeline,omitempty"`
	State        *roomEventFilter `json:"state,omitempty"`
	IncludeLeave bool             `json:"include_leave,omitempty"`
	Ephemeral    *roomEventFilter `json:"ephemeral,omitempty"`    // userdata_filter.go
	AccountData  *roomEventFilter `json:"account_data,omitempty"` // userdata_filter.go
}

type roomEventFilter struct {
	Limit           *int      `json:"limit,omitempty"`
	Types           *[]string `json:"types,omitempty"`
	NotTypes        []string  `json:"not_types,omitempty"`
	Senders         *[]string `json:"senders,omitempty"`
	NotSenders      []string  `json:"not_senders,omitempty"`
	Rooms           *[]string `json:"rooms,omitempty"`
	NotRooms        []string  `json:"not_rooms,omitempty"`
	LazyLoadMembers bool      `json:"lazy_load_members,omitempty"`
	// UnreadThreadNotifications asks /sync for counts per thread.
	UnreadThreadNotifications bool `json:"unread_thread_notifications,omitempty"`
}

// parseFilter decodes and checks a filter's JSON.
func parseFilter(raw []byte) (syncFilter, error) {
	var f syncFilter
	if len(raw) > maxFilterBytes {
		return f, mxcore.TooLarge("The filter is too large")
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return f, mxcore.BadJSON("The filter is not a valid Filter: " + err.Error())
	}
	if l := f.timelineLimitRaw(); l != nil && *l < 0 {
		return f, mxcore.InvalidParam("room.timeline.limit must not be negative")
	}
	return f, nil
}

func (f syncFilter) timelineLimitRaw() *int {
	if f.Room == nil || f.Room.Timeline == nil {
		return nil
	}
	return f.Room.Timeline.Limit
}

// timelineLimit is how many timeline events a room gets, bounded so one
// sync cannot ask for a room's whole history.
func (f syncFilter) timelineLimit() int {
	if l := f.timelineLimitRaw(); l != nil {
		return min(*l, maxTimelineLimit)
	}
	return defaultTimelineLimit
}

func (f syncFilter) includeLeave() bool { return f.Room != nil && f.Room.IncludeLeave }

// roomAllowed applies room.rooms / room.not_rooms.
func (f syncFilter) roomAllowed(roomID string) bool {
	if f.Room == nil {
		return true
	}
	return listAllows(f.Room.Rooms, f.Room.NotRooms, roomID, false)
}

func (f syncFilter) timeline() *roomEventFilter {
	if f.Room == nil {
		return nil
	}
	return f.Room.Timeline
}

func (f syncFilter) state() *roomEventFilter {
	if f.Room == nil {
		return nil
	}
	return f.Room.State
}

// allows reports whether an event passes the filter; a nil filter passes
// everything.
func (ef *roomEventFilter) allows(roomID, sender, typ string) bool {
	if ef == nil {
		return true
	}
	return listAllows(ef.Types, ef.NotTypes, typ, true) &&
		listAllows(ef.Senders, ef.NotSenders, sender, false) &&
		listAllows(ef.Rooms, ef.NotRooms, roomID, false)
}

func (ef *roomEventFilter) lazyMembers() bool { return ef != nil && ef.LazyLoadMembers }

// allowsType applies only the type lists: what can be decided from a
// state entry before its event is loaded.
func (ef *roomEventFilter) allowsType(typ string) bool {
	return ef == nil || listAllows(ef.Types, ef.NotTypes, typ, true)
}

// listAllows applies an include list (nil: everything) and an exclude
// list, the exclude list winning. Types may use "*" wildcards.
func listAllows(include *[]string, exclude []string, value string, wildcards bool) bool {
	for _, p := range exclude {
		if matchesPattern(p, value, wildcards) {
			return false
		}
	}
	if include == nil {
		return true
	}
	for _, p := range *include {
		if matchesPattern(p, value, wildcards) {
			return true
		}
	}
	return false
}

// matchesPattern matches value against p, where (with wildcards) "*"
// stands for any run of characters.
func matchesPattern(p, value string, wildcards bool) bool {
	if !wildcards || !strings.Contains(p, "*") {
		return p == value
	}
	parts := strings.Split(p, "*")
	if !strings.HasPrefix(value, parts[0]) {
		return false
	}
	value = value[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(value, mid)
		if i < 0 {
			return false
		}
		value = value[i+len(mid):]
	}
	return strings.HasSuffix(value, last)
}

// filterStore keeps uploaded filters (storage.FilterStore).
type filterStore interface {
	SaveFilter(ctx context.Context, userID string, filterJSON []byte) (string, error)
	Filter(ctx context.Context, userID, filterID string) ([]byte, error)
}

// filters serves the filter endpoints and resolves /sync's filter
// parameter.
type filters struct {
	store filterStore
}

// resolve reads /sync's filter parameter: a filter ID of the user's or,
// when it starts with "{", an inline filter.
func (f *filters) resolve(ctx context.Context, userID, param string) (syncFilter, error) {
	if param == "" {
		return syncFilter{}, nil
	}
	if strings.HasPrefix(param, "{") {
		return parseFilter([]byte(param))
	}
	raw, err := f.store.Filter(ctx, userID, param)
	if errors.Is(err, storage.ErrNotFound) {
		return syncFilter{}, mxcore.InvalidParam("No filter with that ID")
	}
	if err != nil {
		return syncFilter{}, err
	}
	return parseFilter(raw)
}

// ownUser checks that the path's userId is the caller: filters are only
// for oneself.
func ownUser(r *http.Request) error {
	sess, _ := SessionFrom(r.Context())
	if chi.URLParam(r, "userId") != sess.UserID {
		return mxcore.Forbidden("You can only manage your own filters")
	}
	return nil
}

// post is POST /user/{userId}/filter.
func (f *filters) post(r *http.Request) (any, error) {
	if err := ownUser(r); err != nil {
		return nil, err
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxFilterBytes+1))
	if err != nil {
		return nil, mxcore.BadJSON("Could not read the request body")
	}
	if len(body) > maxFilterBytes {
		return nil, mxcore.TooLarge("The filter is too large")
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(body, &probe); err != nil {
		return nil, mxcore.NotJSON("The body is not a JSON object")
	}
	if _, err := parseFilter(body); err != nil {
		return nil, err
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, body); err != nil {
		return nil, mxcore.NotJSON("The body is not JSON")
	}
	sess, _ := SessionFrom(r.Context())
	id, err := f.store.SaveFilter(r.Context(), sess.UserID, compact.Bytes())
	if err != nil {
		return nil, err
	}
	return map[string]string{"filter_id": id}, nil
}

// get is GET /user/{userId}/filter/{filterId}. Another user's filter is
// not one the caller has: 404, the only error the spec lists here.
func (f *filters) get(r *http.Request) (any, error) {
	if ownUser(r) != nil {
		return nil, mxcore.NotFound("No such filter")
	}
	sess, _ := SessionFrom(r.Context())
	raw, err := f.store.Filter(r.Context(), sess.UserID, chi.URLParam(r, "filterId"))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, mxcore.NotFound("No such filter")
	}
	if err != nil {
		return nil, err
	}
	return json.RawMessage(raw), nil
}
