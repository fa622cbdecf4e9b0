package roomserver

import "github.com/warbler-im/warbler/mxcore"

// Event is the read-only view of a PDU that the pure room algorithms (auth
// rules, state resolution) work on. mxcore's parsed event type satisfies it;
// tests may use any small implementation. Methods must be cheap: they are
// called in the hot loops of state resolution.
type Event interface {
	EventID() string
	RoomID() string
	Type() string
	// StateKey is nil for a message event, and points at "" for a state
	// event with an empty state key.
	StateKey() *string
	Sender() string
	// Content is the raw JSON object of the event's content.
	Content() []byte
	PrevEventIDs() []string
	AuthEventIDs() []string
	Depth() int64
	OriginServerTS() int64
	// Redacts is the event ID a redaction targets: the top-level key in
	// room versions 1–10, content.redacts from v11 on; "" if none.
	Redacts() string
	// JSON is the full event as received (signatures, hashes, unsigned).
	JSON() []byte
	Version() mxcore.RoomVersion
}

// StateKeyTuple identifies one piece of room state.
type StateKeyTuple struct {
	Type     string
	StateKey string
}
