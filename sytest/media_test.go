package sytest

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/warbler-im/warbler/sytest/harness"
)

// mediaClient sends raw media requests: uploads carry their own
// Content-Type, and downloads are bytes, not JSON.
type mediaClient struct {
	t *testing.T
	s *harness.Server
}

func (c mediaClient) do(method, path, token, contentType string, body []byte) harness.Response {
	c.t.Helper()
	req, err := http.NewRequest(method, c.s.ClientURL+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.s.HTTPClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return harness.Response{Status: resp.StatusCode, Header: resp.Header, Body: raw}
}

// upload posts content and returns the media ID of its mxc:// URI.
func (c mediaClient) upload(token, contentType, query string, content []byte) string {
	c.t.Helper()
	resp := c.do("POST", "/_matrix/media/v3/upload"+query, token, contentType, content)
	if resp.Status != http.StatusOK {
		c.t.Fatalf("upload: %d %s", resp.Status, resp.Body)
	}
	uri, _ := resp.JSON(c.t)["content_uri"].(string)
	id, ok := strings.CutPrefix(uri, "mxc://"+c.s.Name+"/")
	if !ok || id == "" {
		c.t.Fatalf("content_uri %q is not on %s", uri, c.s.Name)
	}
	return id
}

func (c mediaClient) download(token, id string) harness.Response {
	c.t.Helper()
	return c.do("GET", "/_matrix/client/v1/media/download/"+c.s.Name+"/"+id, token, "", nil)
}

func (c mediaClient) thumbnail(token, id, query string) harness.Response {
	c.t.Helper()
	return c.do("GET", "/_matrix/client/v1/media/thumbnail/"+c.s.Name+"/"+id+"?"+query, token, "", nil)
}

// startMediaServer starts a server with one user logged in.
func startMediaServer(t *testing.T, backend harness.Backend, env ...string) (mediaClient, string) {
	s := harness.Start(t, harness.Options{Backend: backend, Env: env})
	s.RegisterUser("alice", "alice-pw", false)
	return mediaClient{t: t, s: s}, s.Login("alice", "alice-pw")
}

func wantError(t *testing.T, what string, resp harness.Response, status int, errcode string) {
	t.Helper()
	if resp.Status != status || resp.Errcode() != errcode {
		t.Errorf("%s: got %d %s, want %d %s", what, resp.Status, resp.Body, status, errcode)
	}
}

func TestMediaUploadAndDownload(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		c, token := startMediaServer(t, backend)
		content := []byte("War and Peace, abridged.\n")
		id := c.upload(token, "text/plain; charset=utf-8", "?filename=War%20and%20Peace.txt", content)
		resp := c.download(token, id)
		if resp.Status != http.StatusOK || !bytes.Equal(resp.Body, content) {
			t.Fatalf("download: %d %q", resp.Status, resp.Body)
		}
		wantHeaders(t, resp, map[string]string{
			"Content-Type":           "text/plain; charset=utf-8",
			"Content-Disposition":    `inline; filename="War and Peace.txt"`,
			"X-Content-Type-Options": "nosniff",
		})
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "sandbox;") {
			t.Errorf("Content-Security-Policy = %q", csp)
		}
		renamed := c.do("GET", "/_matrix/client/v1/media/download/"+c.s.Name+"/"+id+"/r%C3%A9sum%C3%A9.txt", token, "", nil)
		wantHeaders(t, renamed, map[string]string{"Content-Disposition": "inline; filename*=utf-8''r%C3%A9sum%C3%A9.txt"})

		html := c.upload(token, "text/html", "?filename=page.html", []byte("<script>alert(document.cookie)</script>"))
		wantHeaders(t, c.download(token, html), map[string]string{"Content-Type": "text/html", "Content-Disposition": `attachment; filename="page.html"`})
		svg := c.upload(token, "image/svg+xml", "", []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`))
		wantHeaders(t, c.download(token, svg), map[string]string{"Content-Disposition": "attachment"})

		config := c.do("GET", "/_matrix/client/v1/media/config", token, "", nil).JSON(t)
		if config["m.upload.size"] != float64(50<<20) {
			t.Errorf("config: %v", config)
		}
	})
}

func wantHeaders(t *testing.T, resp harness.Response, want map[string]string) {
	t.Helper()
	if resp.Status != http.StatusOK {
		t.Errorf("status %d: %s", resp.Status, resp.Body)
		return
	}
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

func TestMediaErrors(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		c, token := startMediaServer(t, backend)
		id := c.upload(token, "text/plain", "", []byte("hello"))
		name := c.s.Name
		cases := []struct {
			what, method, path, token string
			status                    int
			errcode                   string
		}{
			{"unknown media", "GET", "/_matrix/client/v1/media/download/" + name + "/doesNotExist", token, 404, "M_NOT_FOUND"},
			{"unknown media thumbnail", "GET", "/_matrix/client/v1/media/thumbnail/" + name + "/doesNotExist?width=32&height=32", token, 404, "M_NOT_FOUND"},
			{"remote media not fetched", "GET", "/_matrix/client/v1/media/download/remote.example.org/abc?allow_remote=false", token, 404, "M_NOT_FOUND"},
			// .invalid names never resolve (RFC 6761): the origin cannot be reached.
			{"remote media from an unreachable server", "GET", "/_matrix/client/v1/media/download/remote.invalid/abc", token, 502, "M_UNKNOWN"},
			{"download without token", "GET", "/_matrix/client/v1/media/download/" + name + "/" + id, "", 401, "M_MISSING_TOKEN"},
			{"thumbnail without token", "GET", "/_matrix/client/v1/media/thumbnail/" + name + "/" + id + "?width=32&height=32", "", 401, "M_MISSING_TOKEN"},
			{"config without token", "GET", "/_matrix/client/v1/media/config", "", 401, "M_MISSING_TOKEN"},
			{"upload without token", "POST", "/_matrix/media/v3/upload", "", 401, "M_MISSING_TOKEN"},
			{"create without token", "POST", "/_matrix/media/v1/create", "", 401, "M_MISSING_TOKEN"},
			{"bad token", "GET", "/_matrix/client/v1/media/download/" + name + "/" + id, "not-a-token", 401, "M_UNKNOWN_TOKEN"},
			{"frozen legacy download", "GET", "/_matrix/media/v3/download/" + name + "/" + id, "", 404, "M_NOT_FOUND"},
			{"thumbnail of text", "GET", "/_matrix/client/v1/media/thumbnail/" + name + "/" + id + "?width=32&height=32", token, 400, "M_UNKNOWN"},
			{"thumbnail without width", "GET", "/_matrix/client/v1/media/thumbnail/" + name + "/" + id + "?height=32", token, 400, "M_MISSING_PARAM"},
			{"preview_url", "GET", "/_matrix/client/v1/media/preview_url?url=https%3A%2F%2Fexample.org", token, 404, "M_UNRECOGNIZED"},
		}
		for _, tc := range cases {
			wantError(t, tc.what, c.do(tc.method, tc.path, tc.token, "", nil), tc.status, tc.errcode)
		}
	})
}

func TestMediaUploadSizeLimit(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		// Uploads are bounded by media.max_upload_bytes, not by the much
		// smaller http.max_request_bytes.
		c, token := startMediaServer(t, backend, "WARBLER_MEDIA__MAX_UPLOAD_BYTES=200000", "WARBLER_HTTP__MAX_REQUEST_BYTES=4096")
		big := bytes.Repeat([]byte("0123456789"), 15000)
		id := c.upload(token, "application/octet-stream", "", big)
		if resp := c.download(token, id); !bytes.Equal(resp.Body, big) {
			t.Errorf("150 kB upload came back as %d bytes", len(resp.Body))
		}
		tooBig := append(big, big...)
		wantError(t, "300 kB upload", c.do("POST", "/_matrix/media/v3/upload", token, "application/octet-stream", tooBig), 413, "M_TOO_LARGE")
		if got := c.do("GET", "/_matrix/client/v1/media/config", token, "", nil).JSON(t)["m.upload.size"]; got != float64(200000) {
			t.Errorf("m.upload.size = %v", got)
		}
		// Everything else keeps the global limit.
		login := []byte(`{"type":"m.login.password","password":"` + strings.Repeat("x", 5000) + `"}`)
		wantError(t, "oversized login", c.do("POST", "/_matrix/client/v3/login", "", "application/json", login), 413, "M_TOO_LARGE")
	})
}

func TestMediaCreateThenUpload(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		c, alice := startMediaServer(t, backend, "WARBLER_MEDIA__MAX_PENDING_UPLOADS=2")
		c.s.RegisterUser("bob", "bob-pw", false)
		bob := c.s.Login("bob", "bob-pw")
		created := c.do("POST", "/_matrix/media/v1/create", alice, "application/json", []byte("{}"))
		if created.Status != http.StatusOK {
			t.Fatalf("create: %d %s", created.Status, created.Body)
		}
		body := created.JSON(t)
		id := strings.TrimPrefix(body["content_uri"].(string), "mxc://"+c.s.Name+"/")
		if expires, _ := body["unused_expires_at"].(float64); expires <= 0 {
			t.Errorf("unused_expires_at missing: %s", created.Body)
		}
		wantError(t, "download before upload",
			c.do("GET", "/_matrix/client/v1/media/download/"+c.s.Name+"/"+id+"?timeout_ms=0", bob, "", nil), 504, "M_NOT_YET_UPLOADED")

		put := "/_matrix/media/v3/upload/" + c.s.Name + "/" + id + "?filename=later.txt"
		wantError(t, "upload by another user", c.do("PUT", put, bob, "text/plain", []byte("bob's")), 403, "M_FORBIDDEN")
		wantError(t, "upload to an unknown ID", c.do("PUT", "/_matrix/media/v3/upload/"+c.s.Name+"/neverCreated", alice, "text/plain", []byte("x")), 404, "M_NOT_FOUND")
		if resp := c.do("PUT", put, alice, "text/plain", []byte("alice's")); resp.Status != http.StatusOK {
			t.Fatalf("upload by the creator: %d %s", resp.Status, resp.Body)
		}
		wantError(t, "second upload", c.do("PUT", put, alice, "text/plain", []byte("again")), 409, "M_CANNOT_OVERWRITE_MEDIA")
		resp := c.download(bob, id)
		if string(resp.Body) != "alice's" || resp.Header.Get("Content-Disposition") != `inline; filename="later.txt"` {
			t.Errorf("download: %d %q %v", resp.Status, resp.Body, resp.Header)
		}

		for range 2 {
			if resp := c.do("POST", "/_matrix/media/v1/create", alice, "", nil); resp.Status != http.StatusOK {
				t.Fatalf("create: %d %s", resp.Status, resp.Body)
			}
		}
		wantError(t, "third pending create", c.do("POST", "/_matrix/media/v1/create", alice, "", nil), 429, "M_LIMIT_EXCEEDED")

		// Media survives a restart: metadata in the database, bytes on disk.
		c.s.Restart()
		if resp := c.download(bob, id); string(resp.Body) != "alice's" {
			t.Errorf("after restart: %d %s", resp.Status, resp.Body)
		}
	})
}

func TestMediaThumbnails(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		c, token := startMediaServer(t, backend)
		pngID := c.upload(token, "image/png", "?filename=drawing.png", encodeImage(t, "png", 400, 300))
		jpegID := c.upload(token, "image/jpeg", "?filename=photo.jpg", encodeImage(t, "jpeg", 1000, 500))
		cases := []struct {
			what, id, query string
			contentType     string
			size            image.Point
		}{
			{"png crop 96", pngID, "width=96&height=96&method=crop", "image/png", image.Pt(96, 96)},
			{"png scale 320x240", pngID, "width=320&height=240&method=scale", "image/png", image.Pt(320, 240)},
			{"png crop 32", pngID, "width=32&height=32&method=crop", "image/png", image.Pt(32, 32)},
			{"jpeg crop 96", jpegID, "width=96&height=96&method=crop", "image/jpeg", image.Pt(96, 96)},
			// Scale keeps the 2:1 aspect; crop fills the box.
			{"jpeg scale 320x240", jpegID, "width=320&height=240&method=scale", "image/jpeg", image.Pt(320, 160)},
			{"jpeg crop 320", jpegID, "width=300&height=300&method=crop", "image/jpeg", image.Pt(320, 320)},
			{"jpeg scale 640x480", jpegID, "width=600&height=400", "image/jpeg", image.Pt(640, 320)},
			// Never upscaled: larger than the image gives the image.
			{"png larger than itself", pngID, "width=1200&height=1200&method=scale", "image/png", image.Pt(400, 300)},
		}
		for _, tc := range cases {
			for range 2 { // the second time from the cache
				resp := c.thumbnail(token, tc.id, tc.query)
				if resp.Status != http.StatusOK {
					t.Fatalf("%s: %d %s", tc.what, resp.Status, resp.Body)
				}
				cfg, format, err := image.DecodeConfig(bytes.NewReader(resp.Body))
				if err != nil || "image/"+format != tc.contentType || resp.Header.Get("Content-Type") != tc.contentType {
					t.Fatalf("%s: %s decoded as %q (%v)", tc.what, resp.Header.Get("Content-Type"), format, err)
				}
				if got := image.Pt(cfg.Width, cfg.Height); got != tc.size {
					t.Errorf("%s: %v, want %v", tc.what, got, tc.size)
				}
				if d := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(d, "inline; filename=\"thumbnail.") {
					t.Errorf("%s: Content-Disposition %q", tc.what, d)
				}
			}
		}
	})
}

func TestMediaLegacyEndpointsWhenEnabled(t *testing.T) {
	c, token := startMediaServer(t, harness.SQLite, "WARBLER_MEDIA__LEGACY_UNAUTHENTICATED=true")
	id := c.upload(token, "image/png", "", encodeImage(t, "png", 200, 100))
	if resp := c.do("GET", "/_matrix/media/v3/download/"+c.s.Name+"/"+id, "", "", nil); resp.Status != http.StatusOK {
		t.Errorf("legacy download: %d %s", resp.Status, resp.Body)
	}
	resp := c.do("GET", "/_matrix/media/v3/thumbnail/"+c.s.Name+"/"+id+"?width=32&height=32&method=crop", "", "", nil)
	if cfg, _, err := image.DecodeConfig(bytes.NewReader(resp.Body)); err != nil || cfg.Width != 32 || cfg.Height != 32 {
		t.Errorf("legacy thumbnail: %d %v %+v", resp.Status, err, cfg)
	}
	wantError(t, "legacy config still needs a token", c.do("GET", "/_matrix/media/v3/config", "", "", nil), 401, "M_MISSING_TOKEN")
}

// encodeImage draws a w×h gradient in the given format.
func encodeImage(t *testing.T, format string, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), uint8(x + y), 255})
		}
	}
	var buf bytes.Buffer
	var err error
	if format == "png" {
		err = png.Encode(&buf, img)
	} else {
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90})
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestMediaURLPreview(t *testing.T) {
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/post":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write([]byte(`<html><head><title>Plain title</title><meta property="og:title" content="Warbler ships media"><meta property="og:description" content="Uploads, thumbnails, previews."></head><body></body></html>`))
		case "/to-internal":
			// Loopback too, but outside the allowed network.
			http.Redirect(w, r, "http://127.0.0.2"+strings.TrimPrefix(r.Host, "127.0.0.1")+"/post", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	defer site.Close()
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		c, token := startMediaServer(t, backend,
			"WARBLER_MEDIA__URL_PREVIEW__ENABLED=true", "WARBLER_MEDIA__URL_PREVIEW__ALLOWED_NETWORKS=127.0.0.1/32")
		preview := func(target string) harness.Response {
			return c.do("GET", "/_matrix/client/v1/media/preview_url?url="+url.QueryEscape(target), token, "", nil)
		}
		got := preview(site.URL + "/post").JSON(t)
		if got["og:title"] != "Warbler ships media" || got["og:description"] != "Uploads, thumbnails, previews." {
			t.Errorf("preview: %v", got)
		}
		wantError(t, "redirect to an internal address", preview(site.URL+"/to-internal"), 403, "M_FORBIDDEN")
		wantError(t, "metadata service address", preview("http://169.254.169.254/latest/meta-data/"), 403, "M_FORBIDDEN")
		wantError(t, "not http", preview("file:///etc/passwd"), 400, "M_INVALID_PARAM")
		wantError(t, "without a token", c.do("GET", "/_matrix/client/v1/media/preview_url?url=x", "", "", nil), 401, "M_MISSING_TOKEN")
	})
}
