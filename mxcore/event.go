package mxcore

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/tidwall/gjson"
)

// Size limits of events (client-server API, "Size limits").
const (
	// MaxPDUSize is the largest an event may be as canonical JSON, in the
	// federation format with its signatures.
	MaxPDUSize = 65536
	// MaxTypeLength and MaxStateKeyLength limit an event's type and
	// state_key, in bytes.
	MaxTypeLength     = 255
	MaxStateKeyLength = 255
)

// Limits on an event's references, from the PDU schema. NewPDU does not
// enforce them: an event over them is left for the auth rules to reject,
// which keeps its place in the room DAG, rather than being dropped as
// malformed.
const (
	MaxPrevEvents = 20
	MaxAuthEvents = 10
)

// ErrInvalidPDU wraps every reason NewPDU refuses an event. Over
// federation such an event is dropped; from a client it is M_BAD_JSON.
var ErrInvalidPDU = errors.New("invalid event")

func invalidPDU(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidPDU, fmt.Sprintf(format, args...))
}

// PDU is an event checked against the format of its room version. It keeps
// the event's JSON as received and the fields the room algorithms read,
// parsed once. A PDU is immutable and safe for concurrent use; slices it
// returns must not be modified.
type PDU struct {
	raw            []byte
	ver            RoomVersion
	eventID        string
	roomID         string
	eventType      string
	stateKey       *string
	sender         string
	content        []byte
	prevEvents     []string
	authEvents     []string
	depth          int64
	originServerTS int64
	redacts        string
}

// NewPDU parses and validates an event in the federation format of room
// version ver, and computes its event ID (and for a v12 create event, its
// room ID). The event must be valid (canonical-JSON-encodable, under the
// strict number rules from version 6) JSON of at most MaxPDUSize bytes in
// canonical form, with every key the version's PDU schema requires.
func NewPDU(raw []byte, ver RoomVersion) (*PDU, error) {
	if _, known := contentKeysKept[ver.Redact]; !known || ver.EventIDs == 0 {
		return nil, invalidPDU("unknown room version %q", ver.ID)
	}
	if err := checkPDUEncoding(raw, ver); err != nil {
		return nil, err
	}
	p := &PDU{raw: bytes.Clone(raw), ver: ver}
	if err := p.readFields(); err != nil {
		return nil, err
	}
	if err := p.assignIDs(); err != nil {
		return nil, err
	}
	return p, nil
}

// checkPDUEncoding validates the whole event as canonical JSON of the
// room version and checks its canonical size.
func checkPDUEncoding(raw []byte, ver RoomVersion) error {
	opts := canonOptions{lax: !ver.StrictCanonicalJSON, plainIntegers: ver.StrictCanonicalJSON}
	err := withCanonicalJSON(raw, opts, func(canonical []byte) error {
		if len(canonical) == 0 || canonical[0] != '{' {
			return invalidPDU("not a JSON object")
		}
		if len(canonical) > MaxPDUSize {
			return invalidPDU("%d bytes as canonical JSON, limit %d", len(canonical), MaxPDUSize)
		}
		return nil
	})
	var jsonErr *JSONError
	if errors.As(err, &jsonErr) {
		return fmt.Errorf("%w: %w", ErrInvalidPDU, err)
	}
	return err
}

// Bits of the top-level keys a PDU must have.
const (
	hasType = 1 << iota
	hasSender
	hasRoomID
	hasContent
	hasDepth
	hasOriginServerTS
	hasHashes
	hasSignatures
	hasPrevEvents
	hasAuthEvents
	hasEventID

	hasRequired = hasType | hasSender | hasContent | hasDepth | hasOriginServerTS |
		hasHashes | hasSignatures | hasPrevEvents | hasAuthEvents
)

var requiredKeyNames = []string{
	"type", "sender", "room_id", "content", "depth", "origin_server_ts",
	"hashes", "signatures", "prev_events", "auth_events", "event_id",
}

// readFields reads the top-level keys in one pass over the event.
func (p *PDU) readFields() error {
	root, js, err := parseObject(p.raw)
	if err != nil {
		return invalidPDU("%v", err)
	}
	var seen int
	var content gjson.Result
	root.ForEach(func(k, v gjson.Result) bool {
		var bit int
		bit, err = p.readField(k.Str, v, js)
		seen |= bit
		if bit == hasContent {
			content = v
		}
		return err == nil
	})
	if err != nil {
		return err
	}
	if err := p.checkRequired(seen); err != nil {
		return err
	}
	if p.ver.RedactsInContent {
		if redacts := field(content, "redacts"); redacts.Type == gjson.String {
			p.redacts = redacts.Str
		}
	}
	return nil
}

// readField stores one top-level key and returns its bit in the
// required-key set (0 for keys that are not required).
func (p *PDU) readField(key string, v gjson.Result, js []byte) (int, error) {
	var err error
	switch key {
	case "type":
		p.eventType, err = shortString(v, key, MaxTypeLength)
		return hasType, err
	case "state_key":
		var s string
		s, err = shortString(v, key, MaxStateKeyLength)
		p.stateKey = &s
		return 0, err
	case "sender":
		p.sender, err = idString(v, key, checkUserID)
		return hasSender, err
	case "room_id":
		p.roomID, err = idString(v, key, checkRoomID)
		return hasRoomID, err
	case "event_id":
		if !p.ver.EventRefsAreHashPairs {
			return 0, nil // computed from the hash from version 3 on
		}
		p.eventID, err = idString(v, key, checkEventID)
		return hasEventID, err
	case "content":
		p.content, err = objectBytes(v, key, js)
		return hasContent, err
	case "depth":
		p.depth, err = integer(v, key)
		return hasDepth, err
	case "origin_server_ts":
		p.originServerTS, err = integer(v, key)
		return hasOriginServerTS, err
	case "prev_events":
		p.prevEvents, err = eventRefs(v, key, p.ver.EventRefsAreHashPairs)
		return hasPrevEvents, err
	case "auth_events":
		p.authEvents, err = eventRefs(v, key, p.ver.EventRefsAreHashPairs)
		return hasAuthEvents, err
	case "hashes":
		return hasHashes, checkHashes(v)
	case "signatures":
		return hasSignatures, checkSignatures(v)
	case "redacts":
		if !p.ver.RedactsInContent && v.Type == gjson.String {
			p.redacts = v.Str
		}
	}
	return 0, nil
}

func (p *PDU) checkRequired(seen int) error {
	want := hasRequired
	if p.ver.EventRefsAreHashPairs {
		want |= hasEventID
	}
	v12Create := p.ver.RoomIDFromCreateEvent && p.eventType == "m.room.create"
	if v12Create && seen&hasRoomID != 0 {
		return invalidPDU("an m.room.create event has no room_id in room version %s", p.ver.ID)
	}
	if !v12Create {
		want |= hasRoomID
	}
	if missing := want &^ seen; missing != 0 {
		for i, name := range requiredKeyNames {
			if missing&(1<<i) != 0 {
				return invalidPDU("missing %q", name)
			}
		}
	}
	return nil
}

// assignIDs computes the event ID from the reference hash (room version
// 3+) and a v12 create event's room ID from its event ID.
func (p *PDU) assignIDs() error {
	if !p.ver.EventRefsAreHashPairs {
		id, err := p.referenceHashID()
		if err != nil {
			return invalidPDU("%v", err)
		}
		p.eventID = id
	}
	if p.ver.RoomIDFromCreateEvent && p.eventType == "m.room.create" {
		p.roomID = "!" + p.eventID[1:]
	}
	return nil
}

// referenceHashID is hashEventID for an event whose type is known.
func (p *PDU) referenceHashID() (string, error) {
	filter, err := newRedactionFilter(p.ver, &p.eventType)
	if err != nil {
		return "", err
	}
	opts := canonOptionsFor(p.ver, signedJSONSkips...)
	opts.redaction = filter
	sum, err := hashCanonical(p.raw, opts)
	if err != nil {
		return "", err
	}
	return hashID('$', sum, p.ver)
}

func shortString(v gjson.Result, key string, limit int) (string, error) {
	if v.Type != gjson.String {
		return "", invalidPDU("%q is not a string", key)
	}
	if len(v.Str) > limit {
		return "", invalidPDU("%q is longer than %d bytes", key, limit)
	}
	return v.Str, nil
}

func checkUserID(s string) error  { _, err := ParseUserID(s); return err }
func checkRoomID(s string) error  { _, err := ParseRoomID(s); return err }
func checkEventID(s string) error { _, err := ParseEventID(s); return err }

// idString reads an identifier, which must pass parse.
func idString(v gjson.Result, key string, parse func(string) error) (string, error) {
	s, err := shortString(v, key, MaxIDLength)
	if err != nil {
		return "", err
	}
	if err := parse(s); err != nil {
		return "", invalidPDU("%q: %v", key, err)
	}
	return s, nil
}

// objectBytes returns an object member as a slice of the event's bytes.
func objectBytes(v gjson.Result, key string, js []byte) ([]byte, error) {
	if !v.IsObject() {
		return nil, invalidPDU("%q is not an object", key)
	}
	end := v.Index + len(v.Raw)
	if v.Index > 0 && end <= len(js) && string(js[v.Index:end]) == v.Raw {
		return js[v.Index:end:end], nil
	}
	return []byte(v.Raw), nil
}

// integer reads an integer key. Rooms before version 6 may hold integers
// written like floats (1.0, 1e3); the canonical check already refused
// those in later versions.
func integer(v gjson.Result, key string) (int64, error) {
	if v.Type != gjson.Number {
		return 0, invalidPDU("%q is not an integer", key)
	}
	if n, err := strconv.ParseInt(v.Raw, 10, 64); err == nil {
		return n, nil
	}
	if v.Num != math.Trunc(v.Num) || math.Abs(v.Num) >= math.MaxInt64 {
		return 0, invalidPDU("%q is not an integer in range", key)
	}
	return int64(v.Num), nil
}

// eventRefs reads prev_events or auth_events: event IDs, or in room
// versions 1–2, [event ID, {hashes}] pairs.
func eventRefs(v gjson.Result, key string, hashPairs bool) ([]string, error) {
	if !v.IsArray() {
		return nil, invalidPDU("%q is not an array", key)
	}
	var ids []string
	var err error
	v.ForEach(func(_, item gjson.Result) bool {
		var id string
		if hashPairs {
			id, err = hashPairID(item, key)
		} else {
			id, err = idString(item, key, checkEventID)
		}
		ids = append(ids, id)
		return err == nil
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// hashPairID checks a v1–2 reference, [event ID, {"sha256": ...}].
func hashPairID(item gjson.Result, key string) (string, error) {
	if !item.IsArray() {
		return "", invalidPDU("%q holds a non-array reference", key)
	}
	var parts []gjson.Result
	item.ForEach(func(_, part gjson.Result) bool {
		parts = append(parts, part)
		return len(parts) <= 2
	})
	if len(parts) != 2 || !parts[1].IsObject() {
		return "", invalidPDU("%q holds a reference that is not an [event ID, hashes] pair", key)
	}
	return idString(parts[0], key, checkEventID)
}

func checkHashes(v gjson.Result) error {
	if !v.IsObject() || field(v, "sha256").Type != gjson.String {
		return invalidPDU(`"hashes" is not an object with a "sha256" string`)
	}
	return nil
}

// checkSignatures checks the shape {server: {key ID: signature}}.
func checkSignatures(v gjson.Result) error {
	if !v.IsObject() {
		return invalidPDU(`"signatures" is not an object`)
	}
	ok := true
	v.ForEach(func(_, keys gjson.Result) bool {
		ok = keys.IsObject()
		keys.ForEach(func(_, sig gjson.Result) bool {
			ok = ok && sig.Type == gjson.String
			return ok
		})
		return ok
	})
	if !ok {
		return invalidPDU(`"signatures" is not an object of objects of strings`)
	}
	return nil
}

// EventID is the event's ID: its "event_id" in room versions 1–2, the
// reference hash from version 3.
func (p *PDU) EventID() string { return p.eventID }

// RoomID is the room's ID; for a v12 create event, the one it founds.
func (p *PDU) RoomID() string { return p.roomID }

// Type is the event type.
func (p *PDU) Type() string { return p.eventType }

// StateKey is nil for a message event and points at the state key
// (possibly "") for a state event.
func (p *PDU) StateKey() *string { return p.stateKey }

// Sender is the user ID of the sender.
func (p *PDU) Sender() string { return p.sender }

// Content is the raw JSON object of the event's content.
func (p *PDU) Content() []byte { return p.content }

// PrevEventIDs lists the IDs of the event's prev_events.
func (p *PDU) PrevEventIDs() []string { return p.prevEvents }

// AuthEventIDs lists the IDs of the event's auth_events.
func (p *PDU) AuthEventIDs() []string { return p.authEvents }

// Depth is the event's depth in the room DAG.
func (p *PDU) Depth() int64 { return p.depth }

// OriginServerTS is the sender's timestamp in milliseconds.
func (p *PDU) OriginServerTS() int64 { return p.originServerTS }

// Redacts is the ID of the event a redaction targets: the top-level key in
// room versions 1–10, content.redacts from 11; "" if none.
func (p *PDU) Redacts() string { return p.redacts }

// JSON is the event exactly as given to NewPDU.
func (p *PDU) JSON() []byte { return p.raw }

// Version is the room version the event was parsed for.
func (p *PDU) Version() RoomVersion { return p.ver }
