package federation

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

// The ephemeral EDUs other servers send (server-server API, "Typing
// Notifications", "Receipts", "Presence"): each is applied only for users
// of the sending server, and typing and receipts only for rooms the
// sending server is joined to and its ACL admits.

// EphemeralSink applies other servers' typing, receipts and presence;
// *clientapi.API is one.
type EphemeralSink interface {
	SetTyping(roomID, userID string, typing bool, timeout time.Duration)
	ReceiveReceipt(ctx context.Context, roomID, userID, eventID, threadID string, ts int64) error
	SetRemotePresence(ctx context.Context, p storage.Presence) error
}

// EDURooms is what the EDU checks ask of the room server.
type EDURooms interface {
	JoinedServers(ctx context.Context, roomID string) ([]string, error)
	ServerAllowedInRoom(ctx context.Context, roomID, serverName string) (bool, error)
}

// remoteTypingTimeout is how long a remote user shows as typing: the EDU
// carries no timeout, and the sending server repeats it while they type.
const remoteTypingTimeout = 30 * time.Second

// Bounds on one EDU's work.
const (
	maxReceiptRoomsPerEDU = 100
	maxReceiptUsersPerEDU = 1000
	maxPresencePerEDU     = 1000
)

// RegisterEphemeralEDUs makes in apply m.typing, m.receipt and m.presence
// through sink.
func RegisterEphemeralEDUs(in *Inbound, rooms EDURooms, sink EphemeralSink) {
	e := &inboundEphemeral{rooms: rooms, sink: sink}
	in.HandleEDU("m.typing", EDUHandlerFunc(e.typing))
	in.HandleEDU("m.receipt", EDUHandlerFunc(e.receipt))
	in.HandleEDU("m.presence", EDUHandlerFunc(e.presence))
}

type inboundEphemeral struct {
	rooms EDURooms
	sink  EphemeralSink
}

var errNotEntitled = errors.New("the origin may not speak for this user or room")

// entitled: userID belongs to origin, and origin is in roomID (when set)
// and admitted by its server ACL.
func (e *inboundEphemeral) entitled(ctx context.Context, origin, roomID, userID string) error {
	if u, err := mxcore.ParseUserID(userID); err != nil || u.Server != origin {
		return errNotEntitled
	}
	if roomID == "" {
		return nil
	}
	servers, err := e.rooms.JoinedServers(ctx, roomID)
	if err != nil {
		return err
	}
	if !slices.Contains(servers, origin) {
		return errNotEntitled
	}
	if ok, err := e.rooms.ServerAllowedInRoom(ctx, roomID, origin); err != nil || !ok {
		return errors.Join(errNotEntitled, err)
	}
	return nil
}

func (e *inboundEphemeral) typing(ctx context.Context, origin string, content json.RawMessage) error {
	var t struct {
		RoomID string `json:"room_id"`
		UserID string `json:"user_id"`
		Typing bool   `json:"typing"`
	}
	if err := json.Unmarshal(content, &t); err != nil {
		return err
	}
	if err := e.entitled(ctx, origin, t.RoomID, t.UserID); err != nil {
		return err
	}
	e.sink.SetTyping(t.RoomID, t.UserID, t.Typing, remoteTypingTimeout)
	return nil
}

// receiptContent is m.receipt's content: room → type → user → receipt.
type receiptContent map[string]map[string]map[string]struct {
	EventIDs []string `json:"event_ids"`
	Data     struct {
		TS       int64  `json:"ts"`
		ThreadID string `json:"thread_id"`
	} `json:"data"`
}

func (e *inboundEphemeral) receipt(ctx context.Context, origin string, content json.RawMessage) error {
	var rc receiptContent
	if err := json.Unmarshal(content, &rc); err != nil {
		return err
	}
	if len(rc) > maxReceiptRoomsPerEDU {
		return errors.New("too many rooms in one m.receipt")
	}
	var errs []error
	users := 0
	for roomID, byType := range rc {
		for userID, r := range byType["m.read"] { // other types are not federated
			if users++; users > maxReceiptUsersPerEDU {
				return errors.Join(append(errs, errors.New("too many receipts in one m.receipt"))...)
			}
			if len(r.EventIDs) == 0 {
				continue
			}
			if err := e.entitled(ctx, origin, roomID, userID); err != nil {
				errs = append(errs, err)
				continue
			}
			// The spec allows several event IDs; the last is the newest.
			eventID := r.EventIDs[len(r.EventIDs)-1]
			errs = append(errs, e.sink.ReceiveReceipt(ctx, roomID, userID, eventID, r.Data.ThreadID, r.Data.TS))
		}
	}
	return errors.Join(errs...)
}

func (e *inboundEphemeral) presence(ctx context.Context, origin string, content json.RawMessage) error {
	var pc struct {
		Push []struct {
			UserID          string `json:"user_id"`
			Presence        string `json:"presence"`
			StatusMsg       string `json:"status_msg"`
			LastActiveAgo   int64  `json:"last_active_ago"`
			CurrentlyActive bool   `json:"currently_active"`
		} `json:"push"`
	}
	if err := json.Unmarshal(content, &pc); err != nil {
		return err
	}
	if len(pc.Push) > maxPresencePerEDU {
		return errors.New("too many updates in one m.presence")
	}
	now := time.Now().UnixMilli()
	var errs []error
	for _, p := range pc.Push {
		if err := e.entitled(ctx, origin, "", p.UserID); err != nil {
			errs = append(errs, err)
			continue
		}
		errs = append(errs, e.sink.SetRemotePresence(ctx, storage.Presence{UserID: p.UserID, Presence: p.Presence,
			StatusMsg: p.StatusMsg, LastActiveTS: now - max(p.LastActiveAgo, 0), CurrentlyActive: p.CurrentlyActive}))
	}
	return errors.Join(errs...)
}
