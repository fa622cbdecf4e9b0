package mxhttp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/warbler-im/warbler/mxcore"
)

// ReadBody reads the whole request body, which LimitBody has bounded, and
// turns an over-long body into M_TOO_LARGE.
func ReadBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, mxcore.TooLarge(fmt.Sprintf("Request body is larger than %d bytes", tooBig.Limit))
	}
	if err != nil {
		return nil, mxcore.Unknown("Could not read request body")
	}
	return body, nil
}

// DecodeJSON reads a JSON object body into dst. Unparseable JSON is
// M_NOT_JSON; valid JSON of the wrong shape is M_BAD_JSON.
func DecodeJSON(r *http.Request, dst any) error {
	body, err := ReadBody(r)
	if err != nil {
		return err
	}
	return DecodeJSONBytes(body, dst)
}

// DecodeJSONBytes is DecodeJSON for a body already read.
func DecodeJSONBytes(body []byte, dst any) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' || !json.Valid(trimmed) {
		return mxcore.NotJSON("Content not JSON.")
	}
	if err := json.Unmarshal(trimmed, dst); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return mxcore.BadJSON(fmt.Sprintf("%s: wrong type, want %s", typeErr.Field, typeErr.Type))
		}
		return mxcore.BadJSON("Malformed JSON body")
	}
	return nil
}
