package mxhttp

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"
)

func TestPathParamDecodesOnce(t *testing.T) {
	cases := []struct{ target, want string }{
		{"/e/$abc", "$abc"},
		{"/e/$a%2Fb", "$a/b"},     // an escaped slash: chi routes on the raw path
		{"/e/$a%2525b", "$a%25b"}, // a literal "%25" stays itself
		{"/e/%21room:x", "!room:x"},
	}
	for _, c := range cases {
		var got string
		r := chi.NewRouter()
		r.Get("/e/{id}", func(_ http.ResponseWriter, req *http.Request) { got = PathParam(req, "id") })
		r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, c.target, nil))
		if got != c.want {
			t.Errorf("%s: got %q, want %q", c.target, got, c.want)
		}
	}
}
