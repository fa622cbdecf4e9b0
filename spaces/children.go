package spaces

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"strings"

	"github.com/warbler-im/warbler/mxcore"
)

// The m.space.child events of a space (client-server API, "Spaces"): the
// state key names the child room, and a child counts only while its
// content has a non-empty via list. Children are ordered by their
// valid order strings first, then by when the event was sent, then by
// room ID.

// SpaceChildType is the state event type naming a space's children.
const SpaceChildType = "m.space.child"

// RoomTypeSpace is the m.room.create type of a space.
const RoomTypeSpace = "m.space"

const (
	// MaxChildren bounds the children of one space that are served or
	// walked, as other servers do, so a huge space costs bounded work.
	MaxChildren = 50
	// maxChildEvents bounds the child events read from one space's state
	// before the valid ones are sorted and cut to MaxChildren.
	maxChildEvents = 1000
	// maxVia bounds the servers kept from one child's via list.
	maxVia = 10
	// maxOrderLength is the longest order string the spec accepts.
	maxOrderLength = 50
)

// Child is one valid m.space.child event.
type Child struct {
	RoomID    string
	Via       []string
	Order     string // "" when absent or invalid
	Suggested bool
	TS        int64
	// Stripped is the event as children_state lists it.
	Stripped StrippedChild
}

// StrippedChild is a child event as a stripped state event with its
// origin_server_ts.
type StrippedChild struct {
	Type           string          `json:"type"`
	StateKey       string          `json:"state_key"`
	Content        json.RawMessage `json:"content"`
	Sender         string          `json:"sender"`
	OriginServerTS int64           `json:"origin_server_ts"`
}

// ParseChild reads one m.space.child event; ok is false for an invalid
// child (state key not a room ID, no via servers), which is not part of
// the space.
func ParseChild(ev StrippedChild) (Child, bool) {
	if _, err := mxcore.ParseRoomID(ev.StateKey); err != nil || ev.Type != SpaceChildType {
		return Child{}, false
	}
	var c struct {
		Via       []json.RawMessage `json:"via"`
		Order     json.RawMessage   `json:"order"`
		Suggested json.RawMessage   `json:"suggested"`
	}
	if json.Unmarshal(ev.Content, &c) != nil {
		return Child{}, false
	}
	child := Child{RoomID: ev.StateKey, TS: ev.OriginServerTS, Stripped: ev}
	for _, raw := range c.Via {
		var s string
		if json.Unmarshal(raw, &s) == nil && mxcore.ValidServerName(s) && len(child.Via) < maxVia {
			child.Via = append(child.Via, s)
		}
	}
	if len(child.Via) == 0 {
		return Child{}, false
	}
	var order string
	if json.Unmarshal(c.Order, &order) == nil && validOrder(order) {
		child.Order = order
	}
	_ = json.Unmarshal(c.Suggested, &child.Suggested) // anything but true is false
	return child, true
}

// validOrder: at most 50 characters, each printable ASCII (0x20–0x7E).
func validOrder(s string) bool {
	if s == "" || len(s) > maxOrderLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7E {
			return false
		}
	}
	return true
}

// SortChildren orders children as the spec says: those with an order
// first, by order; then by origin_server_ts; then by room ID.
func SortChildren(children []Child) {
	slices.SortStableFunc(children, func(a, b Child) int {
		switch {
		case a.Order != "" && b.Order == "":
			return -1
		case a.Order == "" && b.Order != "":
			return 1
		}
		if c := strings.Compare(a.Order, b.Order); c != 0 {
			return c
		}
		if c := cmp.Compare(a.TS, b.TS); c != 0 {
			return c
		}
		return strings.Compare(a.RoomID, b.RoomID)
	})
}

// SelectChildren parses, filters (suggested only, when asked), orders and
// bounds a space's child events.
func SelectChildren(events []StrippedChild, suggestedOnly bool) []Child {
	var out []Child
	for _, ev := range events {
		c, ok := ParseChild(ev)
		if ok && (c.Suggested || !suggestedOnly) {
			out = append(out, c)
		}
	}
	SortChildren(out)
	if len(out) > MaxChildren {
		out = out[:MaxChildren]
	}
	return out
}

// LocalChildren reads the children of a space this server is in from
// its current state.
func LocalChildren(ctx context.Context, r Reader, roomID string, suggestedOnly bool) ([]Child, error) {
	state, err := r.CurrentState(ctx, roomID)
	if err != nil {
		return nil, err
	}
	var events []StrippedChild
	for _, e := range state {
		if e.Type != SpaceChildType {
			continue
		}
		if len(events) == maxChildEvents {
			break
		}
		ev, err := r.CurrentStateEvent(ctx, roomID, e.Type, e.StateKey)
		if err != nil {
			return nil, err
		}
		events = append(events, StrippedChild{
			Type: ev.Type(), StateKey: e.StateKey, Content: ev.Content(),
			Sender: ev.Sender(), OriginServerTS: ev.OriginServerTS(),
		})
	}
	return SelectChildren(events, suggestedOnly), nil
}

// ChildrenState is the children_state of a hierarchy room: never null.
func ChildrenState(children []Child) []StrippedChild {
	out := make([]StrippedChild, 0, len(children))
	for _, c := range children {
		out = append(out, c.Stripped)
	}
	return out
}
