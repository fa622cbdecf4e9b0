package clientapi

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"

	"github.com/warbler-im/warbler/mxcore"
)

// The /sync response and ClientEvent encode themselves. A /sync body is
// mostly events, and encoding/json walks each one by reflection and then
// re-scans every byte of its content (a json.RawMessage) to validate and
// compact it: half of an initial /sync's CPU in a profile of the bench's
// workload. Event content needs neither: it is part of an event whose
// JSON was validated when the event was parsed (mxcore.NewPDU) or built.
// The output is what encoding/json made, field for field and in the same
// order (map keys sorted), except that '<', '>' and '&' are no longer
// escaped as \u003c and so on; the small, rarely filled parts (ephemeral,
// account data, counts, summaries, invites) still go through encoding/json.

// AppendJSON implements mxhttp.Appender.
func (r *syncResponse) AppendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"next_batch":`...)
	b = mxcore.AppendJSONString(b, r.NextBatch)
	b = append(b, `,"rooms":`...)
	b, err := r.Rooms.appendJSON(b)
	if err != nil {
		return nil, err
	}
	return appendFields(b, []field{
		{"account_data", r.AccountData}, {"presence", r.Presence}, {"to_device", r.ToDevice},
		{"device_lists", r.DeviceLists}, {"device_one_time_keys_count", r.OTKCounts},
		{"device_unused_fallback_key_types", r.UnusedFallbackKeyTypes},
	}, '}')
}

// field is one key of an object and a value encoding/json encodes.
type field struct {
	key   string
	value any
}

// appendFields appends ,"key":value for each field, then end.
func appendFields(b []byte, fields []field, end byte) ([]byte, error) {
	for _, f := range fields {
		b = append(mxcore.AppendJSONString(append(b, ','), f.key), ':')
		var err error
		if b, err = appendMarshalled(b, f.value); err != nil {
			return nil, err
		}
	}
	return append(b, end), nil
}

func (rs *syncRooms) appendJSON(b []byte) ([]byte, error) {
	b, err := appendRoomMap(append(b, `{"join":`...), rs.Join, (*joinedRoom).appendJSON)
	if err != nil {
		return nil, err
	}
	b = append(b, `,"invite":`...)
	if b, err = appendMarshalled(b, rs.Invite); err != nil {
		return nil, err
	}
	b = append(b, `,"leave":`...)
	if b, err = appendRoomMap(b, rs.Leave, (*leftRoom).appendJSON); err != nil {
		return nil, err
	}
	return appendFields(b, []field{{"knock", rs.Knock}}, '}')
}

// appendRoomMap appends rooms as an object keyed by room ID, in sorted
// order as encoding/json writes maps; a nil map is null.
func appendRoomMap[R any](b []byte, rooms map[string]*R, appendRoom func(*R, []byte) ([]byte, error)) ([]byte, error) {
	if rooms == nil {
		return append(b, "null"...), nil
	}
	b = append(b, '{')
	for i, roomID := range slices.Sorted(maps.Keys(rooms)) {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(mxcore.AppendJSONString(b, roomID), ':')
		room := rooms[roomID]
		if room == nil {
			b = append(b, "null"...)
			continue
		}
		var err error
		if b, err = appendRoom(room, b); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// appendMarshalled appends v as encoding/json writes it.
func appendMarshalled(b []byte, v any) ([]byte, error) {
	out, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, out...), nil
}

func (jr *joinedRoom) appendJSON(b []byte) ([]byte, error) {
	b = append(b, '{')
	b = appendStateLists(b, jr.State, jr.StateAfter)
	b = jr.Timeline.appendJSON(append(b, `"timeline":`...))
	fields := []field{
		{"ephemeral", jr.Ephemeral}, {"account_data", jr.AccountData},
		{"unread_notifications", jr.UnreadNotifications},
	}
	if len(jr.UnreadThreadNotifications) > 0 {
		fields = append(fields, field{"unread_thread_notifications", jr.UnreadThreadNotifications})
	}
	return appendFields(b, append(fields, field{"summary", jr.Summary}), '}')
}

func (lr *leftRoom) appendJSON(b []byte) ([]byte, error) {
	b = append(b, '{')
	b = appendStateLists(b, lr.State, lr.StateAfter)
	b = lr.Timeline.appendJSON(append(b, `"timeline":`...))
	return appendFields(b, []field{{"account_data", lr.AccountData}}, '}')
}

// appendStateLists appends "state" and "state_after", each followed by a
// comma, leaving out the nil ones (omitempty).
func appendStateLists(b []byte, state, after *syncList[ClientEvent]) []byte {
	if state != nil {
		b = append(appendEventList(append(b, `"state":`...), state.Events), ',')
	}
	if after != nil {
		b = append(appendEventList(append(b, `"state_after":`...), after.Events), ',')
	}
	return b
}

// appendEventList appends {"events":[...]}.
func appendEventList(b []byte, events []ClientEvent) []byte {
	return append(appendEvents(append(b, `{"events":`...), events), '}')
}

func (tl *syncTimeline) appendJSON(b []byte) []byte {
	b = appendEvents(append(b, `{"events":`...), tl.Events)
	b = strconv.AppendBool(append(b, `,"limited":`...), tl.Limited)
	if tl.PrevBatch != "" {
		b = mxcore.AppendJSONString(append(b, `,"prev_batch":`...), tl.PrevBatch)
	}
	return append(b, '}')
}

// appendEvents appends events as a JSON array; nil is null.
func appendEvents(b []byte, events []ClientEvent) []byte {
	if events == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i := range events {
		if i > 0 {
			b = append(b, ',')
		}
		b = events[i].appendJSON(b)
	}
	return append(b, ']')
}

// MarshalJSON encodes the event without reflection (see above);
// encoding/json still validates what it returns.
func (ev ClientEvent) MarshalJSON() ([]byte, error) {
	return ev.appendJSON(make([]byte, 0, 256+len(ev.Content))), nil
}

func (ev *ClientEvent) appendJSON(b []byte) []byte {
	b = append(b, `{"content":`...)
	if ev.Content == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, ev.Content...)
	}
	b = mxcore.AppendJSONString(append(b, `,"event_id":`...), ev.EventID)
	b = strconv.AppendInt(append(b, `,"origin_server_ts":`...), ev.OriginServerTS, 10)
	if ev.RoomID != "" {
		b = mxcore.AppendJSONString(append(b, `,"room_id":`...), ev.RoomID)
	}
	b = mxcore.AppendJSONString(append(b, `,"sender":`...), ev.Sender)
	if ev.StateKey != nil {
		b = mxcore.AppendJSONString(append(b, `,"state_key":`...), *ev.StateKey)
	}
	b = mxcore.AppendJSONString(append(b, `,"type":`...), ev.Type)
	if ev.Redacts != "" {
		b = mxcore.AppendJSONString(append(b, `,"redacts":`...), ev.Redacts)
	}
	if u := ev.Unsigned; u != nil {
		b = u.appendJSON(append(b, `,"unsigned":`...))
	}
	return append(b, '}')
}

func (u *UnsignedData) appendJSON(b []byte) []byte {
	b = strconv.AppendInt(append(b, `{"age":`...), u.Age, 10)
	if u.TransactionID != "" {
		b = mxcore.AppendJSONString(append(b, `,"transaction_id":`...), u.TransactionID)
	}
	if u.RedactedBecause != nil {
		b = u.RedactedBecause.appendJSON(append(b, `,"redacted_because":`...))
	}
	if u.Relations != nil {
		// Bundles are rare and small. Encoding one cannot fail: it holds
		// events (which encode themselves), strings, counts and flags.
		if rel, err := json.Marshal(u.Relations); err == nil {
			b = append(append(b, `,"m.relations":`...), rel...)
		}
	}
	return append(b, '}')
}
