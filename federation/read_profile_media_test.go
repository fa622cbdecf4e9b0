package federation

import (
	"bytes"
	"context"
	"io"
	"mime"
	"mime/multipart"
	"net/textproto"
	"net/url"
	"testing"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/policy"
	"github.com/warbler-im/warbler/storage"
)

func TestServeProfile(t *testing.T) {
	e := newReadEnv(t, nil)
	ctx := t.Context()
	for _, u := range []string{readAlice, "@gone:" + readServer} {
		if err := e.db.CreateUser(ctx, storage.User{UserID: u}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.db.SetDisplayName(ctx, readAlice, "Alice"); err != nil {
		t.Fatal(err)
	}
	if err := e.db.DeactivateUser(ctx, "@gone:"+readServer); err != nil {
		t.Fatal(err)
	}
	q := func(user, field string) string {
		v := url.Values{}
		if user != "" {
			v.Set("user_id", user)
		}
		if field != "" {
			v.Set("field", field)
		}
		return "/v1/query/profile?" + v.Encode()
	}
	cases := []struct {
		name, path string
		status     int
		errcode    string
		want       map[string]any
	}{
		{"whole profile", q(readAlice, ""), 200, "", map[string]any{"displayname": "Alice"}},
		{"one field", q(readAlice, "displayname"), 200, "", map[string]any{"displayname": "Alice"}},
		{"unset field", q(readAlice, "avatar_url"), 404, "M_NOT_FOUND", nil},
		{"unknown user", q("@nobody:"+readServer, ""), 404, "M_NOT_FOUND", nil},
		{"deactivated user", q("@gone:"+readServer, ""), 404, "M_NOT_FOUND", nil},
		{"user of another server", q("@bob:"+remoteServer, ""), 400, "M_INVALID_PARAM", nil},
		{"not a user ID", q("alice", ""), 400, "M_INVALID_PARAM", nil},
		{"no user_id", q("", ""), 400, "M_MISSING_PARAM", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := e.get(remoteServer, c.path)
			if resp.status != c.status || resp.errcode() != c.errcode {
				t.Fatalf("%d %s, want %d %s", resp.status, resp.raw, c.status, c.errcode)
			}
			if c.want != nil && len(resp.body) != len(c.want) || (c.want != nil && resp.body["displayname"] != c.want["displayname"]) {
				t.Fatalf("body %s, want %v", resp.raw, c.want)
			}
		})
	}
	if in := e.decider.last(); in.Action != policy.ActionServeProfile || in.UserID != readAlice || in.Server != remoteServer {
		t.Fatalf("policy input %+v", in)
	}
}

// fakeMedia serves one media item, "good", and knows no other.
type fakeMedia struct{ closed *int }

func (f fakeMedia) open(mediaID string) (MediaContent, error) {
	if mediaID != "good" {
		return MediaContent{}, mxcore.NotFound("Media not found")
	}
	return MediaContent{
		ContentType: "text/plain", Disposition: `attachment; filename="a.txt"`, Uploader: readAlice,
		Body: closeCounter{Reader: bytes.NewReader([]byte("media bytes")), n: f.closed},
	}, nil
}

func (f fakeMedia) Download(_ context.Context, mediaID string, _ url.Values) (MediaContent, error) {
	return f.open(mediaID)
}

func (f fakeMedia) Thumbnail(_ context.Context, mediaID string, q url.Values) (MediaContent, error) {
	if q.Get("width") == "" {
		return MediaContent{}, mxcore.MissingParam("width is required")
	}
	return f.open(mediaID)
}

type closeCounter struct {
	io.Reader
	n *int
}

func (c closeCounter) Close() error { *c.n++; return nil }

func TestServeMediaDownload(t *testing.T) {
	closed := 0
	e := newReadEnv(t, func(rt *Routes) { rt.Reads.Media = fakeMedia{closed: &closed} })
	for _, path := range []string{"/v1/media/download/good", "/v1/media/thumbnail/good?width=32&height=32"} {
		resp := e.get(remoteServer, path)
		if resp.status != 200 {
			t.Fatalf("%s: %d %s", path, resp.status, resp.raw)
		}
		meta, content, header := readMultipart(t, resp.header.Get("Content-Type"), resp.raw)
		if meta != "{}" || content != "media bytes" || header.Get("Content-Type") != "text/plain" || header.Get("Content-Disposition") == "" {
			t.Fatalf("%s: parts %q %q %v", path, meta, content, header)
		}
	}
	if in := e.decider.last(); in.Action != policy.ActionServeMedia || in.UserID != readAlice || in.Route != "/_matrix/federation/v1/media/thumbnail/{mediaId}" {
		t.Fatalf("policy input %+v", in)
	}
	if got := e.get(remoteServer, "/v1/media/download/missing"); got.status != 404 || got.errcode() != "M_NOT_FOUND" {
		t.Fatalf("missing media: %d %s", got.status, got.raw)
	}
	if got := e.get(remoteServer, "/v1/media/thumbnail/good"); got.status != 400 {
		t.Fatalf("thumbnail without size: %d %s", got.status, got.raw)
	}
	e.decider.allow = false
	if got := e.get(remoteServer, "/v1/media/download/good"); got.status != 403 || bytes.Contains(got.raw, []byte("media bytes")) {
		t.Fatalf("denied: %d %s", got.status, got.raw)
	}
	if closed != 3 {
		t.Fatalf("media opened 3 times was closed %d times", closed)
	}
}

// readMultipart parses a two-part multipart/mixed body.
func readMultipart(t *testing.T, contentType string, body []byte) (meta, content string, header textproto.MIMEHeader) {
	t.Helper()
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil || mediaType != "multipart/mixed" {
		t.Fatalf("content type %q: %v", contentType, err)
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	p1, err := mr.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(p1)
	p2, err := mr.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	c, _ := io.ReadAll(p2)
	if _, err := mr.NextPart(); err != io.EOF {
		t.Fatalf("more than two parts: %v", err)
	}
	return string(m), string(c), p2.Header
}
