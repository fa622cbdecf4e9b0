package media

import (
	"errors"
	"image"
	"io"
	"net/url"
	"testing"

	"github.com/warbler-im/warbler/mxcore"
)

func TestOpenForFederation(t *testing.T) {
	env := newTestEnv(t)
	ctx := t.Context()
	id := env.upload("@alice:test", "text/plain", "notes.txt", []byte("shared text"))
	got, err := env.api.OpenForFederation(ctx, id, url.Values{})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(got.Body)
	got.Body.Close()
	if string(body) != "shared text" || got.ContentType != "text/plain" || got.Uploader != "@alice:test" || got.Disposition == "" {
		t.Fatalf("opened %+v %q", got, body)
	}

	img := env.upload("@alice:test", "image/png", "", encodePNG(t, testImage(400, 300, true)))
	thumb, err := env.api.OpenThumbnailForFederation(ctx, img, url.Values{"width": {"96"}, "height": {"96"}, "method": {"crop"}})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(thumb.Body)
	thumb.Body.Close()
	if thumb.ContentType != "image/png" || decodedSize(t, data) != image.Pt(96, 96) {
		t.Fatalf("thumbnail %s %v", thumb.ContentType, decodedSize(t, data))
	}

	if err := env.store.SetMediaQuarantined(ctx, testServer, id, true); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		mediaID string
		query   url.Values
		thumb   bool
		errcode string
	}{
		{"unknown media", "nosuchmedia", nil, false, mxcore.ErrNotFound},
		{"invalid media ID", "../x", nil, false, mxcore.ErrNotFound},
		{"quarantined", id, nil, false, mxcore.ErrNotFound},
		{"bad timeout", img, url.Values{"timeout_ms": {"-1"}}, false, mxcore.ErrInvalidParam},
		{"thumbnail without width", img, url.Values{"height": {"9"}}, true, mxcore.ErrMissingParam},
	}
	for _, c := range cases {
		open := env.api.OpenForFederation
		if c.thumb {
			open = env.api.OpenThumbnailForFederation
		}
		_, err := open(ctx, c.mediaID, c.query)
		var mxErr *mxcore.Error
		if !errors.As(err, &mxErr) || mxErr.ErrCode != c.errcode {
			t.Errorf("%s: %v, want %s", c.name, err, c.errcode)
		}
	}
}
