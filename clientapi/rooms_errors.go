package clientapi

import (
	"errors"
	"net/http"

	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/roomserver"
)

// roomError turns a roomserver error into the Matrix error a client sees.
// Events refused by the auth rules are M_FORBIDDEN; a room this server
// does not know is M_FORBIDDEN too, since the write endpoints list only
// 403 and answering 404 would tell non-members which rooms exist.
func roomError(err error) error {
	var authErr *roomserver.AuthError
	var mxErr *mxcore.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &mxErr):
		return mxErr
	case errors.As(err, &authErr):
		return authErr.MatrixError()
	case errors.Is(err, roomserver.ErrUnknownRoom):
		return mxcore.Forbidden("You are not in this room, or it does not exist")
	case errors.Is(err, roomserver.ErrBadEventRequest):
		return mxcore.BadJSON(err.Error())
	}
	return err
}

// roomPathParam returns a URL path parameter, percent-decoded: chi matches on
// the raw path when a client escapes "!", ":" or "$", so the value may
// still be escaped.
func roomPathParam(r *http.Request, name string) string { return mxhttp.PathParam(r, name) }

// roomIDParam reads {roomId} and checks its grammar.
func roomIDParam(r *http.Request) (string, error) {
	roomID := roomPathParam(r, "roomId")
	if _, err := mxcore.ParseRoomID(roomID); err != nil {
		return "", mxcore.InvalidParam("Invalid room ID: " + roomID)
	}
	return roomID, nil
}

// roomCaller returns the caller; RequireAuth guarantees there is one.
func roomCaller(r *http.Request) Session {
	s, _ := SessionFrom(r.Context())
	return s
}
