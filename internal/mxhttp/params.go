package mxhttp

import (
	"net/http"
	"net/url"

	"github.com/go-chi/chi/v5"
)

// PathParam returns a chi path parameter decoded. chi matches on the
// escaped path when the request's path has escapes that differ from the
// default encoding (as IDs with '/', '+' or '%' do), and then hands back
// escaped values; otherwise the values are already decoded and must not
// be decoded twice.
func PathParam(r *http.Request, name string) string {
	v := chi.URLParam(r, name)
	if r.URL.RawPath == "" {
		return v
	}
	if decoded, err := url.PathUnescape(v); err == nil {
		return decoded
	}
	return v
}
