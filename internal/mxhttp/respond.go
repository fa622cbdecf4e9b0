package mxhttp

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/warbler-im/warbler/mxcore"
)

// WriteJSON sends v as a JSON body with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	body, err := encode(v)
	if err != nil {
		slog.Error("encoding response", "err", err)
		status, body = http.StatusInternalServerError, mustMarshal(mxcore.Internal())
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// Appender is a response that encodes itself as JSON, appended to b,
// without encoding/json: for hot responses made mostly of JSON that is
// valid already (events), which encoding/json would scan again.
type Appender interface {
	AppendJSON(b []byte) ([]byte, error)
}

func encode(v any) ([]byte, error) {
	if a, ok := v.(Appender); ok {
		return a.AppendJSON(make([]byte, 0, 4096))
	}
	return json.Marshal(v)
}

// WriteRawJSON sends an already encoded JSON body.
func WriteRawJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func mustMarshal(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// WriteError sends err as a Matrix error. Anything that is not an
// *mxcore.Error becomes a 500 M_UNKNOWN; its text is logged, never sent,
// since it may describe internals.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	var mxErr *mxcore.Error
	if !errors.As(err, &mxErr) {
		slog.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		mxErr = mxcore.Internal()
	}
	if mxErr.RetryAfterMs != nil {
		// The header counts whole seconds; round up so a client that obeys
		// it is not refused again.
		w.Header().Set("Retry-After", strconv.FormatInt((*mxErr.RetryAfterMs+999)/1000, 10))
	}
	WriteJSON(w, mxErr.Status, mxErr)
}

// Handler is an endpoint that returns a body for 200 OK or an error.
type Handler func(r *http.Request) (any, error)

// JSON adapts a Handler to net/http.
func JSON(h Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := h(r)
		if err != nil {
			WriteError(w, r, err)
			return
		}
		WriteJSON(w, http.StatusOK, body)
	}
}

// NotFound answers an unknown endpoint as the client-server spec requires.
func NotFound(w http.ResponseWriter, r *http.Request) {
	WriteError(w, r, mxcore.Unrecognized(http.StatusNotFound, "Unrecognized request"))
}

// MethodNotAllowed answers a known endpoint called with the wrong method.
func MethodNotAllowed(w http.ResponseWriter, r *http.Request) {
	WriteError(w, r, mxcore.Unrecognized(http.StatusMethodNotAllowed, "Method not allowed for this endpoint"))
}
