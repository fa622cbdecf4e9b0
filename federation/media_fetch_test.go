package federation

import (
	"crypto/ed25519"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/warbler-im/warbler/policy"
)

// TestMediaFetcherAgainstTheServingSide fetches media over TLS from a
// server running the federation media endpoint behind request
// authentication, as another Warbler would serve it.
func TestMediaFetcherAgainstTheServingSide(t *testing.T) {
	n := newFakeNet(t)
	closed := 0
	keys := staticKeys{"us.test " + exampleKeyID: specKey(t).Public().(ed25519.PublicKey)}
	serving := &Routes{
		Keys: &KeyServer{ServerName: "media.test"}, Policy: policy.AllowAll{},
		Auth:  &Authenticator{ServerName: "media.test", Keys: keys},
		Reads: &ReadSources{Media: fakeMedia{closed: &closed}},
	}
	router := chi.NewRouter()
	serving.Mount(router)
	n.host("media.test", "203.0.113.9")
	n.serve("203.0.113.9:8448", []string{"media.test"}, router)
	n.host("plain.test", "203.0.113.10")
	n.serve("203.0.113.10:8448", []string{"plain.test"}, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, "{}")
	}))
	f := &MediaFetcher{Client: n.client(t)}

	got, err := f.FetchMedia(t.Context(), "media.test", "good")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(got.Body)
	if string(body) != "media bytes" || got.ContentType != "text/plain" || got.Filename != "a.txt" {
		t.Fatalf("fetched %+v %q", got, body)
	}
	if _, err := f.FetchMedia(t.Context(), "media.test", "missing"); !errors.Is(err, ErrMediaNotFound) {
		t.Fatalf("missing media: %v", err)
	}
	if _, err := f.FetchMedia(t.Context(), "plain.test", "good"); err == nil {
		t.Fatal("a response that is not multipart/mixed was accepted")
	}
	if _, err := f.FetchMedia(t.Context(), "nowhere.test", "good"); err == nil || errors.Is(err, ErrMediaNotFound) {
		t.Fatalf("unreachable server: %v", err)
	}
}

func TestParseMultipartMedia(t *testing.T) {
	const boundary = "b0undary"
	part := func(headers, body string) string {
		return "--" + boundary + "\r\n" + headers + "\r\n\r\n" + body + "\r\n"
	}
	cases := []struct {
		name, contentType, body string
		wantFile, wantBody      string
		ok                      bool
	}{
		{"two parts", "multipart/mixed; boundary=" + boundary,
			part("Content-Type: application/json", "{}") + part("Content-Type: image/png\r\nContent-Disposition: inline; filename*=utf-8''%C3%BC.png", "PNG") + "--" + boundary + "--\r\n",
			"ü.png", "PNG", true},
		{"redirect not followed", "multipart/mixed; boundary=" + boundary,
			part("Content-Type: application/json", "{}") + part("Location: https://cdn.example/x", "") + "--" + boundary + "--\r\n", "", "", false},
		{"one part only", "multipart/mixed; boundary=" + boundary, part("Content-Type: application/json", "{}") + "--" + boundary + "--\r\n", "", "", false},
		{"no boundary", "multipart/mixed", "", "", "", false},
		{"not multipart", "image/png", "PNG", "", "", false},
	}
	for _, c := range cases {
		got, err := parseMultipartMedia(c.contentType, []byte(c.body))
		if (err == nil) != c.ok {
			t.Errorf("%s: err %v", c.name, err)
			continue
		}
		if c.ok {
			b, _ := io.ReadAll(got.Body)
			if got.Filename != c.wantFile || string(b) != c.wantBody {
				t.Errorf("%s: %q %q", c.name, got.Filename, b)
			}
		}
	}
}
