package media

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/internal/ratelimit"
	"github.com/warbler-im/warbler/mxcore"
)

const testServer = "media.test"

type userKey struct{}

// fakeAuth takes the bearer token as the user ID, so tests can act as
// anyone without the client API.
func fakeAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || user == "" {
			mxhttp.WriteError(w, r, errMissingToken())
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, user)))
	})
}

func fakeUserID(ctx context.Context) (string, bool) {
	u, ok := ctx.Value(userKey{}).(string)
	return u, ok
}

// testClock is a settable clock.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type testEnv struct {
	t     *testing.T
	api   *API
	store *memStore
	clock *testClock
	srv   *httptest.Server
}

func newTestEnv(t *testing.T, configure ...func(*API)) *testEnv {
	t.Helper()
	files, _ := newTestFiles(t)
	env := &testEnv{t: t, store: newMemStore(), clock: &testClock{now: time.UnixMilli(1_760_000_000_000)}}
	env.api = &API{
		ServerName: testServer, Store: env.store, Files: files,
		MaxUploadBytes: 1 << 20, MaxRequestBytes: 4096,
		UnusedExpiry: time.Hour, MaxPendingUploads: 3,
		RequireAuth: fakeAuth, UserID: fakeUserID, Now: env.clock.Now,
	}
	for _, c := range configure {
		c(env.api)
	}
	r := chi.NewRouter()
	r.NotFound(mxhttp.NotFound)
	env.api.Mount(r)
	env.srv = httptest.NewServer(r)
	t.Cleanup(env.srv.Close)
	return env
}

type testResponse struct {
	status int
	header http.Header
	body   []byte
}

func (r testResponse) errcode() string {
	var e struct {
		Errcode string `json:"errcode"`
	}
	_ = json.Unmarshal(r.body, &e)
	return e.Errcode
}

func (r testResponse) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("not JSON (%d): %s", r.status, r.body)
	}
	return m
}

// do sends a request as user ("" for none).
func (e *testEnv) do(method, path, user, contentType string, body []byte, header ...string) testResponse {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+user)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return testResponse{resp.StatusCode, resp.Header, raw}
}

// upload stores content as user and returns the media ID.
func (e *testEnv) upload(user, contentType, filename string, content []byte) string {
	e.t.Helper()
	path := "/_matrix/media/v3/upload"
	if filename != "" {
		path += "?filename=" + filename
	}
	resp := e.do("POST", path, user, contentType, content)
	if resp.status != 200 {
		e.t.Fatalf("upload: %d %s", resp.status, resp.body)
	}
	uri, _ := resp.json(e.t)["content_uri"].(string)
	id, ok := strings.CutPrefix(uri, "mxc://"+testServer+"/")
	if !ok || !validMediaID(id) {
		e.t.Fatalf("content_uri %q", uri)
	}
	return id
}

func TestUploadAndDownload(t *testing.T) {
	env := newTestEnv(t)
	content := []byte("just some text\n")
	id := env.upload("@alice:test", "text/plain; charset=utf-8", "notes%20%C3%BC.txt", content)
	resp := env.do("GET", "/_matrix/client/v1/media/download/"+testServer+"/"+id, "@bob:test", "", nil)
	if resp.status != 200 || !bytes.Equal(resp.body, content) {
		t.Fatalf("download: %d %q", resp.status, resp.body)
	}
	wantHeaders := map[string]string{
		"Content-Type":            "text/plain; charset=utf-8",
		"Content-Disposition":     "inline; filename*=utf-8''notes%20%C3%BC.txt",
		"X-Content-Type-Options":  "nosniff",
		"Content-Security-Policy": contentSecurityPolicy,
	}
	for k, v := range wantHeaders {
		if got := resp.header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	renamed := env.do("GET", "/_matrix/client/v1/media/download/"+testServer+"/"+id+"/other.txt", "@bob:test", "", nil)
	if got := renamed.header.Get("Content-Disposition"); got != `inline; filename="other.txt"` {
		t.Errorf("override Content-Disposition = %q", got)
	}
	part := env.do("GET", "/_matrix/client/v1/media/download/"+testServer+"/"+id, "@bob:test", "", nil, "Range", "bytes=5-8")
	if part.status != http.StatusPartialContent || string(part.body) != "some" {
		t.Errorf("range: %d %q", part.status, part.body)
	}
}

func TestDangerousContentIsAnAttachment(t *testing.T) {
	env := newTestEnv(t)
	for _, ct := range []string{"text/html", "image/svg+xml", "application/xhtml+xml", ""} {
		id := env.upload("@mallory:test", ct, "", []byte("<script>alert(1)</script>"))
		resp := env.do("GET", "/_matrix/client/v1/media/download/"+testServer+"/"+id, "@bob:test", "", nil)
		if d := resp.header.Get("Content-Disposition"); d != "attachment" {
			t.Errorf("%q served with Content-Disposition %q", ct, d)
		}
		if resp.header.Get("X-Content-Type-Options") != "nosniff" || !strings.HasPrefix(resp.header.Get("Content-Security-Policy"), "sandbox") {
			t.Errorf("%q served without the safety headers: %v", ct, resp.header)
		}
	}
}

func TestUploadLimits(t *testing.T) {
	env := newTestEnv(t, func(a *API) { a.MaxUploadBytes = 1000 })
	resp := env.do("POST", "/_matrix/media/v3/upload", "@alice:test", "application/octet-stream", make([]byte, 1001))
	if resp.status != 413 || resp.errcode() != "M_TOO_LARGE" {
		t.Errorf("over the limit: %d %s", resp.status, resp.body)
	}
	// Without a Content-Length only the reader notices.
	req, _ := http.NewRequest("POST", env.srv.URL+"/_matrix/media/v3/upload", io.MultiReader(bytes.NewReader(make([]byte, 5000))))
	req.Header.Set("Authorization", "Bearer @alice:test")
	req.ContentLength = -1
	res, err := env.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 413 {
		t.Errorf("streamed over the limit: %d", res.StatusCode)
	}
	if resp := env.do("POST", "/_matrix/media/v3/upload", "@alice:test", "", make([]byte, 1000)); resp.status != 200 {
		t.Errorf("at the limit: %d %s", resp.status, resp.body)
	}
	if resp := env.do("POST", "/_matrix/media/v3/upload", "", "", []byte("x")); resp.status != 401 || resp.errcode() != "M_MISSING_TOKEN" {
		t.Errorf("without a token: %d %s", resp.status, resp.body)
	}
	cfg := env.do("GET", "/_matrix/client/v1/media/config", "@alice:test", "", nil).json(t)
	if cfg["m.upload.size"] != float64(1000) {
		t.Errorf("config: %v", cfg)
	}
}

func TestCreateThenUpload(t *testing.T) {
	env := newTestEnv(t)
	created := env.do("POST", "/_matrix/media/v1/create", "@alice:test", "application/json", []byte("{}")).json(t)
	id := strings.TrimPrefix(created["content_uri"].(string), "mxc://"+testServer+"/")
	wantExpiry := env.clock.Now().Add(time.Hour).UnixMilli()
	if created["unused_expires_at"] != float64(wantExpiry) {
		t.Errorf("unused_expires_at = %v, want %d", created["unused_expires_at"], wantExpiry)
	}
	download := "/_matrix/client/v1/media/download/" + testServer + "/" + id
	if resp := env.do("GET", download+"?timeout_ms=0", "@bob:test", "", nil); resp.status != 504 || resp.errcode() != "M_NOT_YET_UPLOADED" {
		t.Errorf("download before upload: %d %s", resp.status, resp.body)
	}
	put := "/_matrix/media/v3/upload/" + testServer + "/" + id + "?filename=late.png"
	steps := []struct {
		name, path, user string
		status           int
		errcode          string
	}{
		{"another user", put, "@bob:test", 403, "M_FORBIDDEN"},
		{"unknown ID", "/_matrix/media/v3/upload/" + testServer + "/nope", "@alice:test", 404, "M_NOT_FOUND"},
		{"other server", "/_matrix/media/v3/upload/elsewhere.test/" + id, "@alice:test", 404, "M_NOT_FOUND"},
		{"the creator", put, "@alice:test", 200, ""},
		{"again", put, "@alice:test", 409, "M_CANNOT_OVERWRITE_MEDIA"},
	}
	for _, s := range steps {
		resp := env.do("PUT", s.path, s.user, "image/png", []byte("png bytes"))
		if resp.status != s.status || resp.errcode() != s.errcode {
			t.Errorf("%s: %d %s, want %d %s", s.name, resp.status, resp.body, s.status, s.errcode)
		}
	}
	resp := env.do("GET", download, "@bob:test", "", nil)
	if resp.status != 200 || string(resp.body) != "png bytes" || resp.header.Get("Content-Disposition") != `inline; filename="late.png"` {
		t.Errorf("download after upload: %d %q %v", resp.status, resp.body, resp.header)
	}
}

func TestCreateLimits(t *testing.T) {
	env := newTestEnv(t)
	var ids []string
	for range 3 {
		uri := env.do("POST", "/_matrix/media/v1/create", "@alice:test", "", nil).json(t)["content_uri"].(string)
		ids = append(ids, strings.TrimPrefix(uri, "mxc://"+testServer+"/"))
	}
	if resp := env.do("POST", "/_matrix/media/v1/create", "@alice:test", "", nil); resp.status != 429 || resp.errcode() != "M_LIMIT_EXCEEDED" {
		t.Errorf("past max pending: %d %s", resp.status, resp.body)
	}
	env.clock.Advance(time.Hour)
	if resp := env.do("PUT", "/_matrix/media/v3/upload/"+testServer+"/"+ids[0], "@alice:test", "", []byte("x")); resp.status != 404 {
		t.Errorf("upload to a lapsed ID: %d %s", resp.status, resp.body)
	}
	if resp := env.do("POST", "/_matrix/media/v1/create", "@alice:test", "", nil); resp.status != 200 {
		t.Errorf("create after the others lapsed: %d %s", resp.status, resp.body)
	}

	limited := newTestEnv(t, func(a *API) { a.CreateLimit = ratelimit.New(0.001, 1) })
	limited.do("POST", "/_matrix/media/v1/create", "@alice:test", "", nil)
	resp := limited.do("POST", "/_matrix/media/v1/create", "@alice:test", "", nil)
	if resp.status != 429 || resp.header.Get("Retry-After") == "" {
		t.Errorf("create rate: %d %v %s", resp.status, resp.header, resp.body)
	}
}

func TestDownloadWaitsForPendingUpload(t *testing.T) {
	env := newTestEnv(t)
	uri := env.do("POST", "/_matrix/media/v1/create", "@alice:test", "", nil).json(t)["content_uri"].(string)
	id := strings.TrimPrefix(uri, "mxc://"+testServer+"/")
	got := make(chan testResponse, 1)
	go func() {
		got <- env.do("GET", "/_matrix/client/v1/media/download/"+testServer+"/"+id+"?timeout_ms=20000", "@bob:test", "", nil)
	}()
	// Give the download time to start waiting; it works either way.
	time.Sleep(50 * time.Millisecond)
	env.do("PUT", "/_matrix/media/v3/upload/"+testServer+"/"+id, "@alice:test", "text/plain", []byte("arrived"))
	select {
	case resp := <-got:
		if resp.status != 200 || string(resp.body) != "arrived" {
			t.Errorf("waiting download: %d %s", resp.status, resp.body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting download was not woken by the upload")
	}
}

func TestThumbnails(t *testing.T) {
	env := newTestEnv(t)
	id := env.upload("@alice:test", "image/png", "", encodePNG(t, testImage(400, 300, true)))
	thumb := func(query string) testResponse {
		return env.do("GET", "/_matrix/client/v1/media/thumbnail/"+testServer+"/"+id+"?"+query, "@bob:test", "", nil)
	}
	cases := []struct {
		query string
		size  image.Point
	}{
		{"width=96&height=96&method=crop", image.Pt(96, 96)},
		{"width=50&height=50&method=crop", image.Pt(96, 96)}, // the next preset up
		{"width=320&height=240&method=scale", image.Pt(320, 240)},
		{"width=100&height=100", image.Pt(320, 240)}, // scale is the default
	}
	for _, tc := range cases {
		resp := thumb(tc.query)
		if resp.status != 200 {
			t.Fatalf("%s: %d %s", tc.query, resp.status, resp.body)
		}
		if got := decodedSize(t, resp.body); got != tc.size {
			t.Errorf("%s: %v, want %v", tc.query, got, tc.size)
		}
		if d := resp.header.Get("Content-Disposition"); d != `inline; filename="thumbnail.png"` || resp.header.Get("Content-Type") != "image/png" {
			t.Errorf("%s: headers %v", tc.query, resp.header)
		}
	}
	puts := env.store.thumbnailPuts()
	thumb("width=96&height=96&method=crop")
	if env.store.thumbnailPuts() != puts {
		t.Error("a cached thumbnail was generated again")
	}
	// Larger than the image: the original, never upscaled.
	if resp := thumb("width=1000&height=1000&method=scale"); decodedSize(t, resp.body) != image.Pt(400, 300) {
		t.Errorf("large request: %d", resp.status)
	}
}

func TestThumbnailErrors(t *testing.T) {
	env := newTestEnv(t)
	text := env.upload("@alice:test", "text/plain", "", []byte("not an image"))
	bomb := env.upload("@alice:test", "image/png", "", pngHeader(50_000, 50_000))
	cases := []struct {
		name, id, query string
		status          int
		errcode         string
	}{
		{"not an image", text, "width=32&height=32", 400, "M_UNKNOWN"},
		{"decompression bomb", bomb, "width=32&height=32", 413, "M_TOO_LARGE"},
		{"no width", text, "height=32", 400, "M_MISSING_PARAM"},
		{"negative height", text, "width=32&height=-1", 400, "M_INVALID_PARAM"},
		{"bad method", text, "width=32&height=32&method=stretch", 400, "M_INVALID_PARAM"},
		{"unknown media", "nothing", "width=32&height=32", 404, "M_NOT_FOUND"},
	}
	for _, tc := range cases {
		resp := env.do("GET", "/_matrix/client/v1/media/thumbnail/"+testServer+"/"+tc.id+"?"+tc.query, "@bob:test", "", nil)
		if resp.status != tc.status || resp.errcode() != tc.errcode {
			t.Errorf("%s: %d %s, want %d %s", tc.name, resp.status, resp.body, tc.status, tc.errcode)
		}
	}
}

func decodedSize(t *testing.T, data []byte) image.Point {
	t.Helper()
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("response is not an image: %v", err)
	}
	return image.Pt(cfg.Width, cfg.Height)
}

func TestLookupErrors(t *testing.T) {
	env := newTestEnv(t)
	id := env.upload("@alice:test", "text/plain", "", []byte("quarantine me"))
	if err := env.store.SetMediaQuarantined(context.Background(), testServer, id, true); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, path, user string
		status           int
		errcode          string
	}{
		{"unknown", "/_matrix/client/v1/media/download/" + testServer + "/nothing", "@bob:test", 404, "M_NOT_FOUND"},
		{"bad media ID", "/_matrix/client/v1/media/download/" + testServer + "/a.b", "@bob:test", 404, "M_NOT_FOUND"},
		{"quarantined", "/_matrix/client/v1/media/download/" + testServer + "/" + id, "@bob:test", 404, "M_NOT_FOUND"},
		{"remote", "/_matrix/client/v1/media/download/elsewhere.test/abc", "@bob:test", 404, "M_NOT_FOUND"},
		{"no token", "/_matrix/client/v1/media/download/" + testServer + "/" + id, "", 401, "M_MISSING_TOKEN"},
		{"no token, thumbnail", "/_matrix/client/v1/media/thumbnail/" + testServer + "/" + id + "?width=1&height=1", "", 401, "M_MISSING_TOKEN"},
		{"no token, config", "/_matrix/client/v1/media/config", "", 401, "M_MISSING_TOKEN"},
		{"no token, legacy config", "/_matrix/media/v3/config", "", 401, "M_MISSING_TOKEN"},
		{"frozen legacy download", "/_matrix/media/v3/download/" + testServer + "/" + id, "", 404, "M_NOT_FOUND"},
		{"preview_url", "/_matrix/client/v1/media/preview_url?url=https://example.org", "@bob:test", 404, "M_UNRECOGNIZED"},
	}
	for _, tc := range cases {
		resp := env.do("GET", tc.path, tc.user, "", nil)
		if resp.status != tc.status || resp.errcode() != tc.errcode {
			t.Errorf("%s: %d %s, want %d %s", tc.name, resp.status, resp.body, tc.status, tc.errcode)
		}
	}
	if body := env.do("GET", "/_matrix/client/v1/media/download/elsewhere.test/abc", "@bob:test", "", nil).body; !strings.Contains(string(body), "not available yet") {
		t.Errorf("remote media answer does not say why: %s", body)
	}
}

func TestLegacyUnauthenticated(t *testing.T) {
	env := newTestEnv(t, func(a *API) { a.LegacyUnauthenticated = true })
	id := env.upload("@alice:test", "image/png", "", encodePNG(t, testImage(100, 100, true)))
	for _, prefix := range []string{"/_matrix/media/v3", "/_matrix/media/r0"} {
		if resp := env.do("GET", prefix+"/download/"+testServer+"/"+id, "", "", nil); resp.status != 200 {
			t.Errorf("%s download: %d %s", prefix, resp.status, resp.body)
		}
		resp := env.do("GET", prefix+"/thumbnail/"+testServer+"/"+id+"?width=32&height=32&method=crop", "", "", nil)
		if resp.status != 200 || decodedSize(t, resp.body) != image.Pt(32, 32) {
			t.Errorf("%s thumbnail: %d", prefix, resp.status)
		}
	}
}

// fakeRemote serves media of other servers from a map and counts fetches.
type fakeRemote struct {
	mu      sync.Mutex
	content map[string]string
	fetches int
}

func (f *fakeRemote) FetchMedia(_ context.Context, server, id string) (RemoteMedia, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fetches++
	body, ok := f.content[mediaKey(server, id)]
	if !ok {
		return RemoteMedia{}, ErrRemoteNotFound
	}
	return RemoteMedia{ContentType: "text/plain", Filename: "remote.txt", Body: io.NopCloser(strings.NewReader(body))}, nil
}

func TestRemoteMediaSeam(t *testing.T) {
	remote := &fakeRemote{content: map[string]string{
		"other.test/small": "from afar",
		"other.test/huge":  strings.Repeat("x", 2000),
	}}
	env := newTestEnv(t, func(a *API) { a.Remote = remote; a.MaxUploadBytes = 1000 })
	for range 2 {
		resp := env.do("GET", "/_matrix/client/v1/media/download/other.test/small", "@bob:test", "", nil)
		if resp.status != 200 || string(resp.body) != "from afar" || resp.header.Get("Content-Disposition") != `inline; filename="remote.txt"` {
			t.Fatalf("remote download: %d %s %v", resp.status, resp.body, resp.header)
		}
	}
	if remote.fetches != 1 {
		t.Errorf("%d fetches, want 1: the second download must come from the cache", remote.fetches)
	}
	if resp := env.do("GET", "/_matrix/client/v1/media/download/other.test/huge", "@bob:test", "", nil); resp.status != 502 || resp.errcode() != "M_TOO_LARGE" {
		t.Errorf("too large remote: %d %s", resp.status, resp.body)
	}
	if resp := env.do("GET", "/_matrix/client/v1/media/download/other.test/missing", "@bob:test", "", nil); resp.status != 404 {
		t.Errorf("missing remote: %d %s", resp.status, resp.body)
	}
}

func errMissingToken() error { return mxcore.MissingToken() }
