package clientapi

import (
	"encoding/json"

	"github.com/tidwall/gjson"
	"github.com/warbler-im/warbler/storage"
)

// strippedEvent is a StrippedStateEvent, as invite_state carries them.
type strippedEvent struct {
	Content  json.RawMessage `json:"content"`
	Sender   string          `json:"sender"`
	StateKey string          `json:"state_key"`
	Type     string          `json:"type"`
}

func syncContentOf(raw []byte) json.RawMessage {
	c := gjson.GetBytes(raw, "content")
	if !c.IsObject() {
		return json.RawMessage("{}")
	}
	return json.RawMessage(c.Raw)
}

func newStrippedEvent(ev storage.StoredEvent) strippedEvent {
	key := ""
	if ev.StateKey != nil {
		key = *ev.StateKey
	}
	return strippedEvent{Content: syncContentOf(ev.JSON), Sender: ev.Sender, StateKey: key, Type: ev.Type}
}
