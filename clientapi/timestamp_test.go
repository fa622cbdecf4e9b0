package clientapi

import (
	"net/http/httptest"
	"testing"

	"github.com/warbler-im/warbler/mxcore"
)

func TestParseTimestampQuery(t *testing.T) {
	tests := []struct {
		query    string
		ts       int64
		forwards bool
		errcode  string
	}{
		{"ts=1432684800000&dir=f", 1432684800000, true, ""},
		{"ts=0&dir=b", 0, false, ""},
		{"dir=f", 0, false, mxcore.ErrMissingParam},
		{"ts=5", 0, false, mxcore.ErrMissingParam},
		{"ts=soon&dir=f", 0, false, mxcore.ErrInvalidParam},
		{"ts=-1&dir=f", 0, false, mxcore.ErrInvalidParam},
		{"ts=5&dir=x", 0, false, mxcore.ErrInvalidParam},
	}
	for _, tc := range tests {
		ts, fwd, err := parseTimestampQuery(httptest.NewRequest("GET", "/x?"+tc.query, nil))
		got := ""
		if e, ok := err.(*mxcore.Error); ok {
			got = e.ErrCode
		}
		if got != tc.errcode || ts != tc.ts || fwd != tc.forwards {
			t.Errorf("%s: %d %v %v", tc.query, ts, fwd, err)
		}
	}
}
