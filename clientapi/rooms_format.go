package clientapi

import (
	"encoding/json"

	"github.com/tidwall/gjson"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

// ClientEvent is an event in the client-server API's ClientEvent format
// (the room's events as /sync, /messages, /state and /event return them).
type ClientEvent struct {
	Content        json.RawMessage `json:"content"`
	EventID        string          `json:"event_id"`
	OriginServerTS int64           `json:"origin_server_ts"`
	// RoomID is left out (empty) where the room is implied: /sync's
	// ClientEventWithoutRoomID.
	RoomID   string  `json:"room_id,omitempty"`
	Sender   string  `json:"sender"`
	StateKey *string `json:"state_key,omitempty"`
	Type     string  `json:"type"`
	// Redacts is set on redactions of rooms before v11, where it is a top
	// level key; from v11 it lives in content.
	Redacts  string        `json:"redacts,omitempty"`
	Unsigned *UnsignedData `json:"unsigned,omitempty"`
}

// UnsignedData is ClientEvent's unsigned block.
type UnsignedData struct {
	Age             int64        `json:"age"`
	TransactionID   string       `json:"transaction_id,omitempty"`
	RedactedBecause *ClientEvent `json:"redacted_because,omitempty"`
	// Relations is the bundled aggregation (relations_bundle.go).
	Relations *relationsBundle `json:"m.relations,omitempty"`
}

// ClientEventOptions are what the stored PDU does not know by itself.
type ClientEventOptions struct {
	// Now is the current time in ms, for unsigned.age.
	Now int64
	// TransactionID goes into unsigned only for the device that sent the
	// event (see API.TransactionIDFor).
	TransactionID string
	// RedactedBecause, when the event has been redacted, is the redaction:
	// the content is then stripped by the room version's algorithm.
	RedactedBecause *ClientEvent
}

// NewClientEvent turns a parsed PDU into the client format.
func NewClientEvent(pdu *mxcore.PDU, opts ClientEventOptions) ClientEvent {
	return newClientEvent(eventHead{
		eventID: pdu.EventID(), roomID: pdu.RoomID(), sender: pdu.Sender(), typ: pdu.Type(),
		stateKey: pdu.StateKey(), ts: pdu.OriginServerTS(),
	}, pdu.JSON(), pdu.Version(), opts)
}

// clientEventFromStored formats a stored event without parsing it again,
// for the hot paths that read events from storage (/sync).
func clientEventFromStored(ev storage.StoredEvent, ver mxcore.RoomVersion, opts ClientEventOptions) ClientEvent {
	return newClientEvent(eventHead{
		eventID: ev.EventID, roomID: ev.RoomID, sender: ev.Sender, typ: ev.Type,
		stateKey: ev.StateKey, ts: ev.OriginServerTS,
	}, ev.JSON, ver, opts)
}

// eventHead holds the fields every event format needs, from a PDU or a
// stored row.
type eventHead struct {
	eventID, roomID, sender, typ string
	stateKey                     *string
	ts                           int64
}

// newClientEvent builds the client format from the event's full JSON.
// Everything a client must not see (hashes, signatures, auth and prev
// events, depth) is left out by construction. A redacted event is served
// with its content stripped by the room version's algorithm.
func newClientEvent(h eventHead, raw []byte, ver mxcore.RoomVersion, opts ClientEventOptions) ClientEvent {
	ev := ClientEvent{
		EventID: h.eventID, OriginServerTS: h.ts, RoomID: h.roomID, Sender: h.sender,
		StateKey: h.stateKey, Type: h.typ,
		Unsigned: &UnsignedData{Age: max(opts.Now-h.ts, 0), TransactionID: opts.TransactionID},
	}
	if opts.RedactedBecause != nil {
		if redacted, err := mxcore.Redact(raw, ver); err == nil {
			raw = redacted
			ev.Unsigned.RedactedBecause = opts.RedactedBecause
		}
	}
	ev.Content = json.RawMessage("{}")
	if c := gjson.GetBytes(raw, "content"); c.IsObject() {
		ev.Content = json.RawMessage(c.Raw)
	}
	// Before v11 redactions name their target at the top level; from v11
	// in content, where clients of those rooms read it. Only redactions
	// are looked at: a key that is absent costs a scan of the whole event.
	if h.typ == "m.room.redaction" {
		if r := gjson.GetBytes(raw, "redacts"); r.Exists() {
			ev.Redacts = r.String()
		}
	}
	return ev
}
