package mxcore

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// Error is a Matrix API error: the JSON body {"errcode", "error", ...} plus
// the HTTP status it is sent with. Handlers return it; the HTTP layer writes it.
type Error struct {
	Status       int    `json:"-"`
	ErrCode      string `json:"errcode"`
	Message      string `json:"error"`
	RetryAfterMs *int64 `json:"retry_after_ms,omitempty"`
	SoftLogout   *bool  `json:"soft_logout,omitempty"`
	// Extra holds further spec-defined fields some errors carry
	// (e.g. "room_version" on M_UNSUPPORTED_ROOM_VERSION).
	Extra map[string]any `json:"-"`
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.ErrCode, e.Message) }

// MarshalJSON writes the error body, folding Extra into the top level.
func (e *Error) MarshalJSON() ([]byte, error) {
	body := make(map[string]any, 4+len(e.Extra))
	for k, v := range e.Extra {
		body[k] = v
	}
	body["errcode"] = e.ErrCode
	body["error"] = e.Message
	if e.RetryAfterMs != nil {
		body["retry_after_ms"] = *e.RetryAfterMs
	}
	if e.SoftLogout != nil {
		body["soft_logout"] = *e.SoftLogout
	}
	return json.Marshal(body)
}

// NewError builds an error with the given status, errcode and message.
func NewError(status int, errcode, format string, args ...any) *Error {
	return &Error{Status: status, ErrCode: errcode, Message: fmt.Sprintf(format, args...)}
}

// Errcodes used across the server. Names follow the spec exactly.
const (
	ErrForbidden            = "M_FORBIDDEN"
	ErrUnknownToken         = "M_UNKNOWN_TOKEN"
	ErrMissingToken         = "M_MISSING_TOKEN"
	ErrUserLocked           = "M_USER_LOCKED"
	ErrUserSuspended        = "M_USER_SUSPENDED"
	ErrBadJSON              = "M_BAD_JSON"
	ErrNotJSON              = "M_NOT_JSON"
	ErrNotFound             = "M_NOT_FOUND"
	ErrLimitExceeded        = "M_LIMIT_EXCEEDED"
	ErrUnrecognized         = "M_UNRECOGNIZED"
	ErrUnknown              = "M_UNKNOWN"
	ErrUnauthorized         = "M_UNAUTHORIZED"
	ErrUserDeactivated      = "M_USER_DEACTIVATED"
	ErrUserInUse            = "M_USER_IN_USE"
	ErrInvalidUsername      = "M_INVALID_USERNAME"
	ErrRoomInUse            = "M_ROOM_IN_USE"
	ErrInvalidRoomState     = "M_INVALID_ROOM_STATE"
	ErrUnsupportedRoomVer   = "M_UNSUPPORTED_ROOM_VERSION"
	ErrIncompatibleRoomVer  = "M_INCOMPATIBLE_ROOM_VERSION"
	ErrBadState             = "M_BAD_STATE"
	ErrGuestAccessForbidden = "M_GUEST_ACCESS_FORBIDDEN"
	ErrMissingParam         = "M_MISSING_PARAM"
	ErrInvalidParam         = "M_INVALID_PARAM"
	ErrTooLarge             = "M_TOO_LARGE"
	ErrExclusive            = "M_EXCLUSIVE"
	ErrResourceLimit        = "M_RESOURCE_LIMIT_EXCEEDED"
	ErrCannotLeaveServerNot = "M_CANNOT_LEAVE_SERVER_NOTICE_ROOM"
	ErrThreepidInUse        = "M_THREEPID_IN_USE"
	ErrThreepidDenied       = "M_THREEPID_DENIED"
	ErrThreepidNotFound     = "M_THREEPID_NOT_FOUND"
	ErrThreepidAuthFailed   = "M_THREEPID_AUTH_FAILED"
	ErrThreepidMedium       = "M_THREEPID_MEDIUM_NOT_SUPPORTED"
	ErrServerNotTrusted     = "M_SERVER_NOT_TRUSTED"
	ErrDuplicateAnnotation  = "M_DUPLICATE_ANNOTATION"
	ErrWeakPassword         = "M_WEAK_PASSWORD"
	ErrUnableToAuthorise    = "M_UNABLE_TO_AUTHORISE_JOIN"
	ErrUnableToGrantJoin    = "M_UNABLE_TO_GRANT_JOIN"
)

// Constructors for the common cases. Each picks the status the spec names.

func Forbidden(msg string) *Error { return NewError(http.StatusForbidden, ErrForbidden, "%s", msg) }
func NotFound(msg string) *Error  { return NewError(http.StatusNotFound, ErrNotFound, "%s", msg) }
func BadJSON(msg string) *Error   { return NewError(http.StatusBadRequest, ErrBadJSON, "%s", msg) }
func NotJSON(msg string) *Error   { return NewError(http.StatusBadRequest, ErrNotJSON, "%s", msg) }
func MissingToken() *Error {
	return NewError(http.StatusUnauthorized, ErrMissingToken, "Missing access token")
}
func InvalidParam(m string) *Error { return NewError(http.StatusBadRequest, ErrInvalidParam, "%s", m) }
func MissingParam(m string) *Error { return NewError(http.StatusBadRequest, ErrMissingParam, "%s", m) }
func Unknown(msg string) *Error    { return NewError(http.StatusBadRequest, ErrUnknown, "%s", msg) }
func Internal() *Error {
	return NewError(http.StatusInternalServerError, ErrUnknown, "Internal server error")
}

// TooLarge is sent with 413 when a request body passes its limit.
func TooLarge(msg string) *Error {
	return NewError(http.StatusRequestEntityTooLarge, ErrTooLarge, "%s", msg)
}

// Unrecognized answers an unknown endpoint (404) or a known path with an
// unsupported method (405), as the client-server spec requires.
func Unrecognized(status int, msg string) *Error {
	return NewError(status, ErrUnrecognized, "%s", msg)
}

// UnknownToken rejects an access token; softLogout tells the client it may
// re-authenticate without losing its device.
func UnknownToken(msg string, softLogout bool) *Error {
	e := NewError(http.StatusUnauthorized, ErrUnknownToken, "%s", msg)
	e.SoftLogout = &softLogout
	return e
}

// LimitExceeded is the 429 rate-limit error with the advised retry delay.
func LimitExceeded(retryAfterMs int64) *Error {
	e := NewError(http.StatusTooManyRequests, ErrLimitExceeded, "Too many requests")
	e.RetryAfterMs = &retryAfterMs
	return e
}
