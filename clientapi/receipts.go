package clientapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

// Receipts (client-server API, "Receipts" and "Read Markers"): m.read and
// m.read.private are stored per (room, user, type, thread) with receipts
// stream positions; m.fully_read is room account data. A receipt only
// moves to a later event; one for an earlier event is accepted and kept
// out, as m.read.private is for everyone but its owner.

const (
	receiptRead        = "m.read"
	receiptReadPrivate = "m.read.private"
	markerFullyRead    = "m.fully_read"
	// maxReceiptsRead bounds the receipts one sync reads.
	maxReceiptsRead   = 20000
	maxReceiptBodyLen = 4096
)

// postReceipt is POST /rooms/{roomId}/receipt/{receiptType}/{eventId}.
func (a *API) postReceipt(r *http.Request) (any, error) {
	roomID, err := roomIDParam(r)
	if err != nil {
		return nil, err
	}
	receiptType := roomPathParam(r, "receiptType")
	if receiptType != receiptRead && receiptType != receiptReadPrivate && receiptType != markerFullyRead {
		return nil, mxcore.InvalidParam("Unknown receipt type " + receiptType)
	}
	eventID := roomPathParam(r, "eventId")
	var body struct {
		ThreadID *json.RawMessage `json:"thread_id"`
	}
	if err := decodeSmallJSON(r, &body); err != nil {
		return nil, err
	}
	threadID, err := receiptThread(body.ThreadID, receiptType)
	if err != nil {
		return nil, err
	}
	userID := roomCaller(r).UserID
	if err := a.requireJoined(r.Context(), roomID, userID); err != nil {
		return nil, err
	}
	return struct{}{}, a.setMarker(r.Context(), roomID, userID, receiptType, eventID, threadID)
}

// postReadMarkers is POST /rooms/{roomId}/read_markers.
func (a *API) postReadMarkers(r *http.Request) (any, error) {
	roomID, err := roomIDParam(r)
	if err != nil {
		return nil, err
	}
	var body map[string]*string
	if err := decodeSmallJSON(r, &body); err != nil {
		return nil, err
	}
	userID := roomCaller(r).UserID
	if err := a.requireJoined(r.Context(), roomID, userID); err != nil {
		return nil, err
	}
	for _, typ := range []string{markerFullyRead, receiptRead, receiptReadPrivate} {
		if id := body[typ]; id != nil {
			if err := a.setMarker(r.Context(), roomID, userID, typ, *id, ""); err != nil {
				return nil, err
			}
		}
	}
	return struct{}{}, nil
}

func decodeSmallJSON(r *http.Request, dst any) error {
	body, err := mxhttp.ReadBody(r)
	if err != nil {
		return err
	}
	if len(body) > maxReceiptBodyLen {
		return mxcore.TooLarge("The request body is too large")
	}
	return mxhttp.DecodeJSONBytes(body, dst)
}

// receiptThread checks thread_id: absent (unthreaded), "main", or a
// thread root's event ID, and never on m.fully_read.
func receiptThread(raw *json.RawMessage, receiptType string) (string, error) {
	if raw == nil {
		return "", nil
	}
	var threadID string
	if err := json.Unmarshal(*raw, &threadID); err != nil || threadID == "" {
		return "", mxcore.InvalidParam("thread_id field must be a non-empty string")
	}
	if receiptType == markerFullyRead {
		return "", mxcore.InvalidParam("thread_id is not allowed for m.fully_read")
	}
	if threadID != "main" && !strings.HasPrefix(threadID, "$") {
		return "", mxcore.InvalidParam("thread_id must be main or an event ID")
	}
	return threadID, nil
}

// setMarker moves the user's marker of one type to eventID, which must be
// an event of the room.
func (a *API) setMarker(ctx context.Context, roomID, userID, typ, eventID, threadID string) error {
	ev, err := a.roomEvent(ctx, roomID, eventID)
	if err != nil {
		return err
	}
	if typ == markerFullyRead {
		content, _ := json.Marshal(map[string]string{"event_id": eventID})
		return a.setAccountData(ctx, userID, roomID, markerFullyRead, content)
	}
	r := storage.Receipt{RoomID: roomID, UserID: userID, Type: typ, ThreadID: threadID,
		EventID: eventID, EventOrder: ev.StreamPos, TS: a.now().UnixMilli()}
	moved, err := a.storeReceipt(ctx, r)
	if err != nil || !moved {
		return err
	}
	// m.read and m.read.private alike mark notifications read (push
	// module, "Marking notifications as read").
	a.markNotificationsRead(userID, roomID, threadID, ev.StreamPos)
	if typ != receiptRead {
		return nil
	}
	a.userData.sendEDU(ctx, EphemeralEDU{Type: "m.receipt", RoomID: roomID, UserID: userID, Content: receiptEDU(r)})
	return nil
}

// roomEvent loads eventID, which must belong to roomID.
func (a *API) roomEvent(ctx context.Context, roomID, eventID string) (storage.StoredEvent, error) {
	if !strings.HasPrefix(eventID, "$") {
		return storage.StoredEvent{}, mxcore.InvalidParam("Invalid event ID")
	}
	evs, err := a.Store.Events(ctx, []string{eventID})
	if err != nil {
		return storage.StoredEvent{}, err
	}
	if len(evs) == 0 || evs[0].RoomID != roomID || evs[0].Outlier {
		return storage.StoredEvent{}, mxcore.NotFound("Event not found in this room")
	}
	return evs[0], nil
}

// storeReceipt stores r and wakes who may see it: the room for a public
// receipt, only its owner for a private one. moved is false when the
// stored receipt was already at a later event.
func (a *API) storeReceipt(ctx context.Context, r storage.Receipt) (moved bool, err error) {
	pos, err := a.Store.SetReceipt(ctx, r)
	if err != nil || pos == 0 {
		return false, err
	}
	a.userData.receipts.pos.advance(pos)
	if r.Type == receiptReadPrivate {
		a.userData.notify(streamReceipts, pos, "", r.UserID)
	} else {
		a.userData.notify(streamReceipts, pos, r.RoomID, "")
	}
	return true, nil
}

// ReceiveReceipt stores a remote user's m.read receipt from an m.receipt
// EDU. Federation calls it after checking that the user's server may
// speak for them and that they are in the room. The event may be unknown
// here yet; it is then ordered before every known one.
func (a *API) ReceiveReceipt(ctx context.Context, roomID, userID, eventID, threadID string, ts int64) error {
	if a.userData == nil {
		return nil
	}
	r := storage.Receipt{RoomID: roomID, UserID: userID, Type: receiptRead, ThreadID: threadID, EventID: eventID, TS: ts}
	if evs, err := a.Store.Events(ctx, []string{eventID}); err == nil && len(evs) == 1 && evs[0].RoomID == roomID {
		r.EventOrder = evs[0].StreamPos
	}
	_, err := a.storeReceipt(ctx, r)
	return err
}

// receiptEDU is the m.receipt EDU content for one public receipt.
func receiptEDU(r storage.Receipt) json.RawMessage {
	data := map[string]any{"ts": r.TS}
	if r.ThreadID != "" {
		data["thread_id"] = r.ThreadID
	}
	content, _ := json.Marshal(map[string]any{r.RoomID: map[string]any{r.Type: map[string]any{
		r.UserID: map[string]any{"event_ids": []string{r.EventID}, "data": data},
	}}})
	return content
}

// receiptStream serves m.receipt in rooms.join.*.ephemeral.
type receiptStream struct {
	ud  *userData
	pos storedPosition
}

func (s *receiptStream) position(ctx context.Context) (int64, error) {
	return s.pos.get(ctx, s.ud.api.Store.MaxReceiptPos)
}

// read loads the receipts that moved in the user's rooms, and all of
// them in rooms the user just joined.
func (s *receiptStream) read(ctx context.Context, read *streamRead, resp *syncResponse) ([]storage.Receipt, error) {
	var moved, fresh []string
	for _, roomID := range read.Joined {
		if !read.Filter.ephemeralAllowed(roomID, "m.receipt") {
			continue
		}
		if newlyJoined(resp, read, roomID) {
			fresh = append(fresh, roomID)
		} else {
			moved = append(moved, roomID)
		}
	}
	store := s.ud.api.Store
	receipts, err := store.ReceiptsSince(ctx, moved, read.From, read.UpTo, maxReceiptsRead)
	if err != nil || len(fresh) == 0 {
		return receipts, err
	}
	all, err := store.ReceiptsSince(ctx, fresh, 0, read.UpTo, maxReceiptsRead)
	return append(receipts, all...), err
}

// add batches the receipts that moved into one m.receipt per room:
// content[event][type][user] = {ts, thread_id}. Private receipts go only
// to their owner.
func (s *receiptStream) add(ctx context.Context, read *streamRead, resp *syncResponse) error {
	receipts, err := s.read(ctx, read, resp)
	if err != nil {
		return err
	}
	byRoom := map[string]map[string]map[string]map[string]any{}
	for _, r := range receipts {
		if r.Type == receiptReadPrivate && r.UserID != read.UserID {
			continue
		}
		content := byRoom[r.RoomID]
		if content == nil {
			content = map[string]map[string]map[string]any{}
			byRoom[r.RoomID] = content
		}
		types := content[r.EventID]
		if types == nil {
			types = map[string]map[string]any{}
			content[r.EventID] = types
		}
		users := types[r.Type]
		if users == nil {
			users = map[string]any{}
			types[r.Type] = users
		}
		data := map[string]any{"ts": r.TS}
		if r.ThreadID != "" {
			data["thread_id"] = r.ThreadID
		}
		users[r.UserID] = data
	}
	for roomID, content := range byRoom {
		jr := resp.joinedRoom(roomID)
		jr.Ephemeral.Events = append(jr.Ephemeral.Events, map[string]any{"type": "m.receipt", "content": content})
	}
	return nil
}
