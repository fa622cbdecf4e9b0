package clientapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/storage"
)

// Content reports (report_content.yaml) are stored for the server's
// administrators. A room may be reported by anyone who knows it; an event
// only by a member of its room, and an event that is unknown, in another
// room, redacted or not visible answers 404 like a non-member's report.

// A user may be reported by anyone (report_content.yaml). Every report of
// a well-formed user ID is stored and answered 200, whether the user
// exists or not, local or remote: the spec lets a server hide which users
// exist, and storing each one also makes both cases cost the same time.
// The shared per-user write budget bounds the rows this adds.

// maxReportReasonChars bounds a stored reason.
const maxReportReasonChars = 2000

func (a *API) mountReports(r chi.Router) {
	r.Post("/rooms/{roomId}/report", a.handle(a.reportRoom))
	r.Post("/rooms/{roomId}/report/{eventId}", a.handle(a.reportEvent))
	r.Post("/users/{userId}/report", a.handle(a.reportUser))
}

func (a *API) reportUser(r *http.Request) (any, error) {
	target := roomPathParam(r, "userId")
	if _, err := mxcore.ParseUserID(target); err != nil {
		return nil, mxcore.InvalidParam("Invalid user ID")
	}
	body, err := decodeReport(r, true)
	if err != nil {
		return nil, err
	}
	caller := roomCaller(r).UserID
	if err := a.limitStoredWrite(caller); err != nil {
		return nil, err
	}
	report := storage.UserReport{TargetUserID: target, UserID: caller, Reason: *body.Reason, ReceivedTS: a.now().UnixMilli()}
	if err := a.Store.AddUserReport(r.Context(), report); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

type reportBody struct {
	Reason *string          `json:"reason"`
	Score  *json.RawMessage `json:"score"` // removed in v1.18; kept when valid
}

func (a *API) reportRoom(r *http.Request) (any, error) {
	roomID, err := roomIDParam(r)
	if err != nil {
		return nil, err
	}
	body, err := decodeReport(r, true)
	if err != nil {
		return nil, err
	}
	if _, err := a.Rooms.RoomVersion(r.Context(), roomID); errors.Is(err, roomserver.ErrUnknownRoom) {
		return nil, mxcore.NotFound("The room was not found")
	} else if err != nil {
		return nil, err
	}
	return a.storeReport(r, roomID, "", body)
}

func (a *API) reportEvent(r *http.Request) (any, error) {
	roomID, err := roomIDParam(r)
	if err != nil {
		return nil, err
	}
	eventID := roomPathParam(r, "eventId")
	body, err := decodeReport(r, false)
	if err != nil {
		return nil, err
	}
	if err := a.checkReportableEvent(r, roomID, eventID); err != nil {
		return nil, err
	}
	return a.storeReport(r, roomID, eventID, body)
}

// checkReportableEvent: the caller is joined to the room and the event is
// one of its timeline events they can see, not redacted.
func (a *API) checkReportableEvent(r *http.Request, roomID, eventID string) error {
	notFound := mxcore.NotFound("The event was not found or you are not joined to its room")
	user := roomCaller(r).UserID
	membership, _, err := a.Rooms.Membership(r.Context(), roomID, user)
	if errors.Is(err, roomserver.ErrUnknownRoom) || err == nil && membership != storage.MembershipJoin {
		return notFound
	}
	if err != nil {
		return err
	}
	evs, err := a.Store.Events(r.Context(), []string{eventID})
	if err != nil {
		return err
	}
	if len(evs) != 1 || evs[0].RoomID != roomID || evs[0].Rejected != "" || evs[0].Outlier || evs[0].RedactedBecause != "" {
		return notFound
	}
	visible, err := a.Rooms.VisibleToUser(r.Context(), eventID, user)
	if err != nil {
		return err
	}
	if !visible {
		return notFound
	}
	return nil
}

// decodeReport reads the body; the room report requires a reason.
func decodeReport(r *http.Request, reasonRequired bool) (reportBody, error) {
	var body reportBody
	if err := mxhttp.DecodeJSON(r, &body); err != nil {
		return body, err
	}
	if body.Reason == nil && reasonRequired {
		return body, mxcore.MissingParam("Missing reason")
	}
	if body.Reason != nil && utf8.RuneCountInString(*body.Reason) > maxReportReasonChars {
		return body, mxcore.InvalidParam("reason is longer than 2000 characters")
	}
	return body, nil
}

func (a *API) storeReport(r *http.Request, roomID, eventID string, body reportBody) (any, error) {
	if err := a.limitStoredWrite(roomCaller(r).UserID); err != nil {
		return nil, err
	}
	report := storage.ContentReport{
		RoomID: roomID, EventID: eventID, UserID: roomCaller(r).UserID,
		ReceivedTS: a.now().UnixMilli(), Score: legacyScore(body.Score),
	}
	if body.Reason != nil {
		report.Reason = *body.Reason
	}
	if err := a.Store.AddContentReport(r.Context(), report); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// legacyScore keeps a score older clients send if it is in the range the
// spec once gave (-100 most offensive to 0 inoffensive).
func legacyScore(raw *json.RawMessage) *int {
	if raw == nil {
		return nil
	}
	var score int
	if json.Unmarshal(*raw, &score) != nil || score < -100 || score > 0 {
		return nil
	}
	return &score
}
