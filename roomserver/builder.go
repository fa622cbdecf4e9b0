package roomserver

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/tidwall/gjson"
	"github.com/warbler-im/warbler/mxcore"
)

// EventRequest describes a local event to build.
type EventRequest struct {
	RoomID string
	Sender string // a user of this server
	Type   string
	// StateKey is nil for a message event.
	StateKey *string
	// Content is the event's content, a JSON object.
	Content []byte
	// Redacts is the event an m.room.redaction redacts. It goes where the
	// room version wants it: top level up to v10, content from v11.
	Redacts string
	// Unsigned, when set, is a JSON object stored as the event's
	// "unsigned" (e.g. the sending device's transaction_id). It is not
	// covered by hashes or signatures.
	Unsigned []byte
}

// Builder limits (room version specs, PDU schema): a server references at
// most 10 of its forward extremities, and depth stops at the largest
// integer the version allows.
const (
	maxBuildPrevEvents = 10
	maxDepthV1         = math.MaxInt64 // v1–5
	maxDepthV6         = 1<<53 - 1     // v6+: canonical JSON integers
)

// ErrBadEventRequest wraps every reason an EventRequest cannot be built;
// the client API answers it with M_BAD_JSON or M_INVALID_PARAM.
var ErrBadEventRequest = errors.New("roomserver: bad event request")

// buildInput is everything an event is built from: the request and the
// DAG position it will take.
type buildInput struct {
	ver     mxcore.RoomVersion
	roomID  string
	req     EventRequest
	prevs   []*mxcore.PDU // newest first
	auth    []*mxcore.PDU
	ts      int64
	eventID string // v1–2 only
}

// BuildEvent builds and signs a local event on the room's current state
// and forward extremities, without persisting it (SendEvent does both
// under the room's lock).
func (rs *RoomServer) BuildEvent(ctx context.Context, req EventRequest) (*mxcore.PDU, error) {
	room, err := rs.room(ctx, req.RoomID)
	if err != nil {
		return nil, err
	}
	return rs.buildOnRoom(ctx, room, req)
}

// buildOnRoom builds req on room: prev events are the newest forward
// extremities, auth events the current state's selection.
func (rs *RoomServer) buildOnRoom(ctx context.Context, room *roomState, req EventRequest) (*mxcore.PDU, error) {
	if err := rs.checkRequest(req); err != nil {
		return nil, err
	}
	ex := room.extremities[:min(len(room.extremities), maxBuildPrevEvents)]
	ids := make([]string, 0, len(ex)+6)
	for _, e := range ex {
		ids = append(ids, e.id)
	}
	authIDs := authEventIDsIn(room.current, room.version, req)
	metas, err := rs.loadEvents(ctx, append(ids, authIDs...))
	if err != nil {
		return nil, err
	}
	in := buildInput{ver: room.version, roomID: room.id, req: req, ts: rs.now()}
	for _, id := range ids {
		if m := metas[id]; m != nil {
			in.prevs = append(in.prevs, m.pdu)
		}
	}
	for _, id := range authIDs {
		if m := metas[id]; m != nil {
			in.auth = append(in.auth, m.pdu)
		}
	}
	if len(in.prevs) != len(ids) || len(in.auth) != len(authIDs) {
		return nil, fmt.Errorf("roomserver: events of %s's current state are missing from storage", room.id)
	}
	return rs.build(in)
}

func (rs *RoomServer) now() int64 { return rs.cfg.Now().UnixMilli() }

// checkRequest refuses what no room version could accept.
func (rs *RoomServer) checkRequest(req EventRequest) error {
	u, err := mxcore.ParseUserID(req.Sender)
	switch {
	case err != nil:
		return fmt.Errorf("%w: sender: %v", ErrBadEventRequest, err)
	case u.Server != rs.cfg.ServerName:
		return fmt.Errorf("%w: sender %s is not a user of %s", ErrBadEventRequest, req.Sender, rs.cfg.ServerName)
	case req.Type == "" || len(req.Type) > mxcore.MaxTypeLength:
		return fmt.Errorf("%w: event type must have 1 to %d bytes", ErrBadEventRequest, mxcore.MaxTypeLength)
	case req.StateKey != nil && len(*req.StateKey) > mxcore.MaxStateKeyLength:
		return fmt.Errorf("%w: state key longer than %d bytes", ErrBadEventRequest, mxcore.MaxStateKeyLength)
	case !gjson.ValidBytes(req.Content) || !gjson.ParseBytes(req.Content).IsObject():
		return fmt.Errorf("%w: content is not a JSON object", ErrBadEventRequest)
	case req.Unsigned != nil && !gjson.ParseBytes(req.Unsigned).IsObject():
		return fmt.Errorf("%w: unsigned is not a JSON object", ErrBadEventRequest)
	}
	return nil
}

// authEventIDsIn selects the auth events of req from a state (server-server
// API, "Auth events selection"); state the room lacks is not cited.
func authEventIDsIn(s *stateSet, ver mxcore.RoomVersion, req EventRequest) []string {
	var ids []string
	for _, t := range AuthEventsNeeded(req.Type, req.StateKey, req.Sender, req.Content, ver) {
		if id, ok := s.Get(t.Type, t.StateKey); ok {
			ids = append(ids, id)
		}
	}
	return ids
}

// build writes the event, hashes and signs it, and parses it back.
func (rs *RoomServer) build(in buildInput) (*mxcore.PDU, error) {
	content, err := canonicalContent(in)
	if err != nil {
		return nil, err
	}
	if in.ver.EventRefsAreHashPairs {
		in.eventID = "$" + randomID(18) + ":" + rs.cfg.ServerName
	}
	raw, err := writeEvent(in, content)
	if err != nil {
		return nil, err
	}
	if raw, err = mxcore.AddContentHash(raw); err != nil {
		return nil, fmt.Errorf("roomserver: hash event: %w", err)
	}
	if raw, err = mxcore.SignEvent(raw, rs.cfg.ServerName, rs.cfg.KeyID, rs.cfg.PrivateKey, in.ver); err != nil {
		return nil, fmt.Errorf("roomserver: sign event: %w", err)
	}
	pdu, err := mxcore.NewPDU(raw, in.ver)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadEventRequest, err)
	}
	return pdu, nil
}

// canonicalContent checks the content against the room version's number
// rules and, from v11, puts a redaction's target into it.
func canonicalContent(in buildInput) ([]byte, error) {
	content := in.req.Content
	if in.req.Redacts != "" && in.ver.RedactsInContent && !gjson.GetBytes(content, "redacts").Exists() {
		var members map[string]json.RawMessage
		if err := json.Unmarshal(content, &members); err != nil {
			return nil, fmt.Errorf("%w: content: %v", ErrBadEventRequest, err)
		}
		members["redacts"] = mustJSON(in.req.Redacts)
		content = mustJSON(members)
	}
	canon := mxcore.CanonicalJSON
	if !in.ver.StrictCanonicalJSON {
		canon = mxcore.CanonicalJSONLax
	}
	out, err := canon(content)
	if err != nil {
		return nil, fmt.Errorf("%w: content: %v", ErrBadEventRequest, err)
	}
	return out, nil
}

// writeEvent writes the event's JSON with its keys in canonical order.
func writeEvent(in buildInput, content []byte) ([]byte, error) {
	w := objectWriter{buf: make([]byte, 0, 512+len(content)+len(in.req.Unsigned))}
	refs, err := eventRefs(in.auth, in.ver)
	if err != nil {
		return nil, err
	}
	w.raw("auth_events", refs)
	w.raw("content", content)
	w.raw("depth", strconv.AppendInt(nil, depthAfter(in.prevs, in.ver), 10))
	if in.eventID != "" {
		w.str("event_id", in.eventID)
	}
	w.raw("origin_server_ts", strconv.AppendInt(nil, in.ts, 10))
	if refs, err = eventRefs(in.prevs, in.ver); err != nil {
		return nil, err
	}
	w.raw("prev_events", refs)
	if in.req.Redacts != "" && !in.ver.RedactsInContent {
		w.str("redacts", in.req.Redacts)
	}
	if !(in.ver.RoomIDFromCreateEvent && in.req.Type == mRoomCreate) {
		w.str("room_id", in.roomID)
	}
	w.str("sender", in.req.Sender)
	if in.req.StateKey != nil {
		w.str("state_key", *in.req.StateKey)
	}
	w.str("type", in.req.Type)
	if in.req.Unsigned != nil {
		w.raw("unsigned", in.req.Unsigned)
	}
	return w.close(), nil
}

// depthAfter is one more than the deepest prev event, held at the room
// version's limit ("If the room's depth is already at the limit, the
// depth must be set to the limit").
func depthAfter(prevs []*mxcore.PDU, ver mxcore.RoomVersion) int64 {
	limit := int64(maxDepthV6)
	if !ver.StrictCanonicalJSON {
		limit = maxDepthV1
	}
	var deepest int64
	for _, p := range prevs {
		deepest = max(deepest, p.Depth())
	}
	if deepest >= limit {
		return limit
	}
	return deepest + 1
}

// eventRefs writes prev_events or auth_events: event IDs, or in v1–2
// [event ID, {"sha256": reference hash}] pairs.
func eventRefs(events []*mxcore.PDU, ver mxcore.RoomVersion) ([]byte, error) {
	out := []byte{'['}
	for i, ev := range events {
		if i > 0 {
			out = append(out, ',')
		}
		if !ver.EventRefsAreHashPairs {
			out = mxcore.AppendJSONString(out, ev.EventID())
			continue
		}
		sum, err := mxcore.ReferenceHash(ev.JSON(), ver)
		if err != nil {
			return nil, fmt.Errorf("roomserver: reference hash of %s: %w", ev.EventID(), err)
		}
		out = append(mxcore.AppendJSONString(append(out, '['), ev.EventID()), `,{"sha256":`...)
		out = append(mxcore.AppendJSONString(out, mxcore.EncodeBase64(sum)), "}]"...)
	}
	return append(out, ']'), nil
}

// objectWriter writes a JSON object whose members the caller adds in
// canonical key order.
type objectWriter struct{ buf []byte }

func (w *objectWriter) key(k string) {
	if len(w.buf) == 0 {
		w.buf = append(w.buf, '{')
	} else {
		w.buf = append(w.buf, ',')
	}
	w.buf = append(mxcore.AppendJSONString(w.buf, k), ':')
}

func (w *objectWriter) raw(k string, v []byte) { w.key(k); w.buf = append(w.buf, v...) }
func (w *objectWriter) str(k, v string)        { w.key(k); w.buf = mxcore.AppendJSONString(w.buf, v) }
func (w *objectWriter) close() []byte          { return append(w.buf, '}') }

// randomID returns n random letters, for v1–2 event IDs and room IDs.
func randomID(n int) string {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return string(b)
}

// SendEvent builds a local event on the room's current state and persists
// it, both under the room's write lock, so concurrent sends in one room
// form a chain rather than siblings. It returns the event ID once the
// event is durable. An event the auth rules refuse is not stored and comes
// back as an *AuthError (M_FORBIDDEN for clients); a malformed request as
// ErrBadEventRequest.
func (rs *RoomServer) SendEvent(ctx context.Context, req EventRequest) (string, error) {
	release, err := rs.locks.acquire(ctx, req.RoomID)
	if err != nil {
		return "", err
	}
	defer release()
	room, err := rs.roomLocked(ctx, req.RoomID)
	if err != nil {
		return "", err
	}
	pdu, err := rs.buildOnRoom(ctx, room, req)
	if err != nil {
		return "", err
	}
	results, err := rs.persistLocked(ctx, room, []InputEvent{{PDU: pdu, Origin: OriginLocal, fresh: true}}, true)
	if err != nil {
		return "", err
	}
	return results[0].EventID, nil
}
