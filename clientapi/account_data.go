package clientapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

// Account data (client-server API, "Client Config"): per-user JSON
// objects, global or per room, only ever visible to their owner.

const (
	// maxAccountDataBytes bounds one entry, like an event's size limit.
	maxAccountDataBytes = 65536
	maxAccountDataType  = 255
	// maxAccountDataRead bounds the entries one sync reads.
	maxAccountDataRead = 10000
)

// serverManagedTypes are the account data types clients may read but
// only the server sets (spec: account data, "Server Behaviour").
var serverManagedTypes = map[string]bool{"m.fully_read": true, "m.push_rules": true}

// mountUserData registers account data, tags, typing, receipts and
// presence. They need the sync streams, so an API without a roomserver
// serves none. None is on the spec's list of what guests may use.
func (a *API) mountUserData(r chi.Router) {
	if a.userData == nil {
		return
	}
	r.Group(func(r chi.Router) {
		r.Use(a.noGuests)
		r.Put("/user/{userId}/account_data/{type}", a.handle(a.putAccountData))
		r.Get("/user/{userId}/account_data/{type}", a.handle(a.getAccountData))
		r.Put("/user/{userId}/rooms/{roomId}/account_data/{type}", a.handle(a.putAccountData))
		r.Get("/user/{userId}/rooms/{roomId}/account_data/{type}", a.handle(a.getAccountData))
		r.Get("/user/{userId}/rooms/{roomId}/tags", a.handle(a.getTags))
		r.Put("/user/{userId}/rooms/{roomId}/tags/{tag}", a.handle(a.putTag))
		r.Delete("/user/{userId}/rooms/{roomId}/tags/{tag}", a.handle(a.deleteTag))
		r.Put("/rooms/{roomId}/typing/{userId}", a.handle(a.putTyping))
		r.Post("/rooms/{roomId}/receipt/{receiptType}/{eventId}", a.handle(a.postReceipt))
		r.Post("/rooms/{roomId}/read_markers", a.handle(a.postReadMarkers))
		r.Get("/presence/{userId}/status", a.handle(a.getPresence))
		r.Put("/presence/{userId}/status", a.handle(a.putPresence))
	})
}

// ownUserParam checks that {userId} is the caller: account data, tags and
// typing are only ever set for oneself.
func ownUserParam(r *http.Request, what string) (string, error) {
	userID := roomPathParam(r, "userId")
	if userID != roomCaller(r).UserID {
		return "", mxcore.Forbidden("Cannot " + what + " for other users")
	}
	return userID, nil
}

// accountDataTarget reads the user, the room ("" for global) and the type
// of an account data path.
func accountDataTarget(r *http.Request, what string) (userID, roomID, dataType string, err error) {
	if userID, err = ownUserParam(r, what); err != nil {
		return
	}
	if chi.URLParam(r, "roomId") != "" {
		if roomID, err = roomIDParam(r); err != nil {
			return
		}
	}
	dataType = roomPathParam(r, "type")
	if dataType == "" || len(dataType) > maxAccountDataType {
		err = mxcore.InvalidParam("The account data type must be 1 to 255 bytes")
	}
	return
}

// putAccountData is PUT /user/{userId}[/rooms/{roomId}]/account_data/{type}.
func (a *API) putAccountData(r *http.Request) (any, error) {
	userID, roomID, dataType, err := accountDataTarget(r, "add account data")
	if err != nil {
		return nil, err
	}
	if serverManagedTypes[dataType] {
		return nil, mxcore.NewError(http.StatusMethodNotAllowed, mxcore.ErrBadJSON, "Cannot set %s through this API", dataType)
	}
	content, err := readObjectBody(r, maxAccountDataBytes)
	if err != nil {
		return nil, err
	}
	return struct{}{}, a.setAccountData(r.Context(), userID, roomID, dataType, content)
}

// getAccountData is GET /user/{userId}[/rooms/{roomId}]/account_data/{type}.
func (a *API) getAccountData(r *http.Request) (any, error) {
	userID, roomID, dataType, err := accountDataTarget(r, "read account data")
	if err != nil {
		return nil, err
	}
	content, err := a.Store.AccountData(r.Context(), userID, roomID, dataType)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, mxcore.NotFound("Account data not found")
	}
	if err != nil {
		return nil, err
	}
	return json.RawMessage(content), nil
}

// readObjectBody reads a body that must be a JSON object of at most limit
// bytes, compacted.
func readObjectBody(r *http.Request, limit int) (json.RawMessage, error) {
	body, err := mxhttp.ReadBody(r)
	if err != nil {
		return nil, err
	}
	if len(body) > limit {
		return nil, mxcore.TooLarge("The content is too large")
	}
	var obj map[string]json.RawMessage
	if err := mxhttp.DecodeJSONBytes(body, &obj); err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, mxcore.BadJSON("Content must be a JSON object")
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, body); err != nil {
		return nil, mxcore.NotJSON("Content not JSON")
	}
	return compact.Bytes(), nil
}

// setAccountData stores one entry of a user's account data (roomID ""
// for global) and wakes the user's long-polls. It refuses nothing: the
// endpoints check what clients may set, and server code (push rules,
// read markers) sets the server-managed types through it.
// Without a roomserver (no /sync) it only stores.
func (a *API) setAccountData(ctx context.Context, userID, roomID, dataType string, content json.RawMessage) error {
	pos, err := a.Store.SetAccountData(ctx, userID, roomID, dataType, content)
	if err != nil || a.userData == nil {
		return err
	}
	a.userData.accountData.pos.advance(pos)
	a.userData.notify(streamAccountData, pos, "", userID)
	return nil
}

// accountDataStream serves account_data and rooms.*.account_data.
type accountDataStream struct {
	ud  *userData
	pos storedPosition
}

func (s *accountDataStream) position(ctx context.Context) (int64, error) {
	return s.pos.get(ctx, s.ud.api.Store.MaxAccountDataPos)
}

func (s *accountDataStream) add(ctx context.Context, read *streamRead, resp *syncResponse) error {
	entries, err := s.ud.api.Store.AccountDataSince(ctx, read.UserID, read.From, read.UpTo, maxAccountDataRead)
	if err != nil {
		return err
	}
	if read.Initial {
		if entries, err = s.ud.api.withDefaultPushRules(ctx, read.UserID, entries); err != nil {
			return err
		}
	}
	for _, e := range entries {
		ev := map[string]any{"type": e.Type, "content": json.RawMessage(e.Content)}
		switch {
		case e.RoomID == "" && !read.Filter.globalAccountDataAllowed(e.Type),
			e.RoomID != "" && !read.Filter.roomAccountDataAllowed(e.RoomID, e.Type):
		case e.RoomID == "":
			resp.AccountData.Events = append(resp.AccountData.Events, ev)
		case read.isJoined(e.RoomID):
			jr := resp.joinedRoom(e.RoomID)
			jr.AccountData.Events = append(jr.AccountData.Events, ev)
		case resp.Rooms.Leave[e.RoomID] != nil:
			lr := resp.Rooms.Leave[e.RoomID]
			lr.AccountData.Events = append(lr.AccountData.Events, ev)
		}
	}
	return nil
}
