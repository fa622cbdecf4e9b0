package clientapi

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

const (
	defaultNotificationsLimit = 20
	maxNotificationsLimit     = 100
)

func (a *API) mountNotifications(r chi.Router) {
	r.Get("/notifications", a.handle(a.notifications))
}

type notificationJSON struct {
	Actions    json.RawMessage `json:"actions"`
	Event      ClientEvent     `json:"event"`
	ProfileTag string          `json:"profile_tag,omitempty"`
	Read       bool            `json:"read"`
	RoomID     string          `json:"room_id"`
	TS         int64           `json:"ts"`
}

// notifications is GET /notifications (notifications.yaml): the events
// the caller's push rules notified them of, newest first. from is the
// stream position to continue below. A page may hold fewer than limit
// with a next_token: the store bounds what one page reads.
func (a *API) notifications(r *http.Request) (any, error) {
	ctx := r.Context()
	q := r.URL.Query()
	var before int64
	if from := q.Get("from"); from != "" {
		n, err := strconv.ParseInt(from, 10, 64)
		if err != nil || n <= 0 {
			return nil, mxcore.InvalidParam("from is not a token of this endpoint")
		}
		before = n
	}
	limit, err := limitParam(q, defaultNotificationsLimit)
	if err != nil {
		return nil, err
	}
	limit = min(limit, maxNotificationsLimit)
	only := q.Get("only")
	if only != "" && only != "highlight" {
		return nil, mxcore.InvalidParam("only must be highlight")
	}
	sess, _ := SessionFrom(ctx)
	if err := a.unread.flush(ctx); err != nil {
		return nil, err
	}
	// Rooms the user left or was banned from keep the notifications they
	// had there.
	rooms, err := a.pushRooms(ctx, sess.UserID, storage.MembershipJoin, storage.MembershipInvite,
		storage.MembershipLeave, storage.MembershipBan)
	if err != nil {
		return nil, err
	}
	rows, next, err := a.Store.PushActions(ctx, sess.UserID, rooms, before, limit, only == "highlight")
	if err != nil {
		return nil, err
	}
	out, err := a.notificationEvents(r, rows)
	if err != nil {
		return nil, err
	}
	resp := map[string]any{"notifications": out}
	if next > 0 {
		resp["next_token"] = strconv.FormatInt(next, 10)
	}
	return resp, nil
}

// notificationEvents formats the rows' events; rows whose event is gone
// are left out.
func (a *API) notificationEvents(r *http.Request, rows []storage.PushAction) ([]notificationJSON, error) {
	ids := make([]string, len(rows))
	for i, row := range rows {
		ids[i] = row.EventID
	}
	evs, err := a.Store.Events(r.Context(), ids)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]storage.StoredEvent, len(evs))
	for _, ev := range evs {
		byID[ev.EventID] = ev
	}
	now := a.now().UnixMilli()
	out := make([]notificationJSON, 0, len(rows))
	for _, row := range rows {
		ev, ok := byID[row.EventID]
		if !ok {
			continue
		}
		ver, err := a.Rooms.RoomVersion(r.Context(), row.RoomID)
		if err != nil {
			return nil, err
		}
		out = append(out, notificationJSON{Actions: row.Actions, Event: clientEventFromStored(ev, ver, ClientEventOptions{Now: now}),
			Read: row.Read, RoomID: row.RoomID, TS: row.TS})
	}
	return out, nil
}
