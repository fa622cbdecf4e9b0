package media

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/warbler-im/warbler/internal/ratelimit"
)

func TestParsePreview(t *testing.T) {
	page := `<!doctype html><html><head>
		<title> Fallback title </title>
		<meta name="description" content="Fallback description">
		<meta property="og:title" content="The real title">
		<meta property="og:type" content="article">
		<meta property="og:image" content="https://example.org/cat.png">
		<meta property="og:image:width" content="48">
		<meta property="og:title" content="a second title is ignored">
		</head><body><meta property="og:site_name" content="too late"></body></html>`
	got := parsePreview(strings.NewReader(page))
	want := map[string]any{"og:title": "The real title", "og:type": "article", "og:description": "Fallback description"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("parsePreview = %v, want %v", got, want)
	}
	plain := parsePreview(strings.NewReader("<title>Only a title</title><p>text"))
	if plain["og:title"] != "Only a title" || len(plain) != 1 {
		t.Errorf("title only: %v", plain)
	}
	long := parsePreview(strings.NewReader(`<meta property="og:description" content="` + strings.Repeat("é", 2000) + `">`))
	if d := long["og:description"].(string); len(d) > previewMaxValueLen || !strings.HasSuffix(d, "é") {
		t.Errorf("long value clipped to %d bytes, ending %q", len(d), d[len(d)-2:])
	}
}

// previewEnv serves pages on loopback and a media API that previews them.
type previewEnv struct {
	*testEnv
	site  *httptest.Server
	hits  atomic.Int32
	pages map[string]func(w http.ResponseWriter, r *http.Request)
}

func newPreviewEnv(t *testing.T, allowed []string, limit *ratelimit.Limiter) *previewEnv {
	pe := &previewEnv{pages: map[string]func(w http.ResponseWriter, r *http.Request){}}
	pe.site = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pe.hits.Add(1)
		if page, ok := pe.pages[r.URL.Path]; ok {
			page(w, r)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(pe.site.Close)
	previews, err := NewPreviewer(allowed, limit)
	if err != nil {
		t.Fatal(err)
	}
	pe.testEnv = newTestEnv(t, func(a *API) { a.Previews = previews })
	return pe
}

func (pe *previewEnv) preview(target string) testResponse {
	return pe.do("GET", "/_matrix/client/v1/media/preview_url?url="+url.QueryEscape(target), "@alice:test", "", nil)
}

func TestPreviewURL(t *testing.T) {
	pe := newPreviewEnv(t, []string{"127.0.0.1/32"}, nil)
	pe.pages["/article"] = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=iso-8859-1")
		// "Café" in Latin-1: the page's charset is honoured.
		w.Write([]byte("<html><head><meta property=\"og:title\" content=\"Caf\xe9\"></head></html>"))
	}
	pe.pages["/file.pdf"] = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/pdf")
		w.Write([]byte("%PDF-1.7"))
	}
	pe.pages["/endless"] = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<title>Big</title>"))
		w.Write([]byte(strings.Repeat("<p>padding</p>", 300_000))) // 4 MB, past the read limit
	}
	got := pe.preview(pe.site.URL + "/article#section").json(t)
	if got["og:title"] != "Café" {
		t.Errorf("article preview: %v", got)
	}
	pe.preview(pe.site.URL + "/article")
	if n := pe.hits.Load(); n != 1 {
		t.Errorf("%d fetches of one page, want 1: the answer is cached", n)
	}
	if got := pe.preview(pe.site.URL + "/file.pdf"); got.status != 200 || len(got.json(t)) != 0 {
		t.Errorf("non-HTML preview: %d %s", got.status, got.body)
	}
	if got := pe.preview(pe.site.URL + "/endless").json(t); got["og:title"] != "Big" {
		t.Errorf("large page: %v", got)
	}
	if resp := pe.preview(pe.site.URL + "/missing"); resp.status != 502 {
		t.Errorf("404 page: %d %s", resp.status, resp.body)
	}
	bad := map[string]string{
		"ftp://example.org/x":        "M_INVALID_PARAM",
		"/relative":                  "M_INVALID_PARAM",
		"http://user:pw@example.org": "M_INVALID_PARAM",
		"":                           "M_MISSING_PARAM",
	}
	for target, errcode := range bad {
		if resp := pe.preview(target); resp.status != 400 || resp.errcode() != errcode {
			t.Errorf("url %q: %d %s, want 400 %s", target, resp.status, resp.body, errcode)
		}
	}
}

func TestPreviewRefusesInternalAddresses(t *testing.T) {
	pe := newPreviewEnv(t, nil, nil)
	port := pe.site.Listener.Addr().(*net.TCPAddr).Port
	for _, target := range []string{
		pe.site.URL + "/",
		fmt.Sprintf("http://localhost:%d/", port),
		fmt.Sprintf("http://[::ffff:127.0.0.1]:%d/", port),
		"http://169.254.169.254/latest/meta-data/",
		"http://10.0.0.1/",
	} {
		if resp := pe.preview(target); resp.status != 403 || resp.errcode() != "M_FORBIDDEN" {
			t.Errorf("%s: %d %s, want 403 M_FORBIDDEN", target, resp.status, resp.body)
		}
	}
	if n := pe.hits.Load(); n != 0 {
		t.Errorf("the internal site was reached %d times", n)
	}
}

func TestPreviewRedirectIsChecked(t *testing.T) {
	pe := newPreviewEnv(t, []string{"127.0.0.1/32"}, nil)
	port := pe.site.Listener.Addr().(*net.TCPAddr).Port
	pe.pages["/hop"] = func(w http.ResponseWriter, r *http.Request) {
		// 127.0.0.2 is loopback too, but not in the allowed network.
		http.Redirect(w, r, fmt.Sprintf("http://127.0.0.2:%d/secret", port), http.StatusFound)
	}
	if resp := pe.preview(pe.site.URL + "/hop"); resp.status != 403 {
		t.Errorf("redirect to an internal address: %d %s", resp.status, resp.body)
	}
}

func TestPreviewRateLimit(t *testing.T) {
	pe := newPreviewEnv(t, []string{"127.0.0.1/32"}, ratelimit.New(0.001, 1))
	pe.pages["/a"] = func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<title>a</title>")) }
	pe.preview(pe.site.URL + "/a")
	if resp := pe.preview(pe.site.URL + "/a"); resp.status != 200 {
		t.Errorf("cached answer was rate limited: %d", resp.status)
	}
	if resp := pe.preview(pe.site.URL + "/b"); resp.status != 429 || resp.errcode() != "M_LIMIT_EXCEEDED" {
		t.Errorf("second fetch: %d %s", resp.status, resp.body)
	}
}
