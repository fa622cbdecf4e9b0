package pushgw

import (
	"encoding/json"
)

// FormatEventIDOnly is the pusher data format that sends only the event
// and room IDs, counts and devices (push gateway API, "Homeserver
// behaviour").
const FormatEventIDOnly = "event_id_only"

// Notification is the notification object of a /notify request, minus
// devices (each pusher's own, see Target). Empty fields are left out.
type Notification struct {
	EventID           string          `json:"event_id,omitempty"`
	RoomID            string          `json:"room_id,omitempty"`
	Type              string          `json:"type,omitempty"`
	Sender            string          `json:"sender,omitempty"`
	SenderDisplayName string          `json:"sender_display_name,omitempty"`
	RoomName          string          `json:"room_name,omitempty"`
	RoomAlias         string          `json:"room_alias,omitempty"`
	UserIsTarget      bool            `json:"user_is_target,omitempty"`
	Prio              string          `json:"prio,omitempty"`
	Content           json.RawMessage `json:"content,omitempty"`
	Counts            Counts          `json:"counts"`
	// Tweaks are the set_tweak actions of the rule that matched.
	Tweaks map[string]json.RawMessage `json:"-"`
}

// Counts are the user's unread counts; zero counts are left out, as the
// spec asks.
type Counts struct {
	Unread      int `json:"unread,omitempty"`
	MissedCalls int `json:"missed_calls,omitempty"`
}

// Target is one http pusher: whose it is, where it sends, and the device
// entry the gateway gets.
type Target struct {
	UserID  string
	AppID   string
	PushKey string
	URL     string
	// PushKeyTS is when the pushkey was last set, in seconds.
	PushKeyTS int64
	// Data is the pusher's data object; its url key is not sent.
	Data json.RawMessage
}

func (t Target) key() pusherKey { return pusherKey{t.UserID, t.AppID, t.PushKey} }

type pusherKey struct{ userID, appID, pushKey string }

type device struct {
	AppID     string                     `json:"app_id"`
	PushKey   string                     `json:"pushkey"`
	PushKeyTS int64                      `json:"pushkey_ts,omitempty"`
	Data      map[string]json.RawMessage `json:"data"`
	Tweaks    map[string]json.RawMessage `json:"tweaks"`
}

// eventIDOnly is the notification of the event_id_only format.
type eventIDOnly struct {
	EventID string `json:"event_id,omitempty"`
	RoomID  string `json:"room_id,omitempty"`
	Prio    string `json:"prio,omitempty"`
	Counts  Counts `json:"counts"`
}

// Body is the /notify request body for n sent to t, in t's format.
func Body(n Notification, t Target) ([]byte, error) {
	data := pusherData(t.Data)
	tweaks := n.Tweaks
	if tweaks == nil {
		tweaks = map[string]json.RawMessage{} // sent as {}, as gateways expect an object
	}
	dev := device{AppID: t.AppID, PushKey: t.PushKey, PushKeyTS: t.PushKeyTS, Data: data, Tweaks: tweaks}
	var format string
	if raw, ok := data["format"]; ok {
		_ = json.Unmarshal(raw, &format) // a non-string format is the default one
	}
	var body any
	if format == FormatEventIDOnly {
		body = struct {
			eventIDOnly
			Devices []device `json:"devices"`
		}{eventIDOnly{n.EventID, n.RoomID, n.Prio, n.Counts}, []device{dev}}
	} else {
		body = struct {
			Notification
			Devices []device `json:"devices"`
		}{n, []device{dev}}
	}
	return json.Marshal(map[string]any{"notification": body})
}

// pusherData is the pusher's data minus url; unreadable data is sent as
// an empty object.
func pusherData(raw json.RawMessage) map[string]json.RawMessage {
	var data map[string]json.RawMessage
	if json.Unmarshal(raw, &data) != nil || data == nil {
		return map[string]json.RawMessage{}
	}
	delete(data, "url")
	return data
}
