package media

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

// Serving this server's media to other servers (server-server API,
// "Content Repository"). The federation package owns the endpoints, the
// request signatures and the residency decision; these methods only find
// and open the content, with the same rules as local downloads: only
// this server's media, pending uploads waited for up to timeout_ms,
// quarantined media not found.

// LocalContent is opened content for another server.
type LocalContent struct {
	ContentType string
	Disposition string // the Content-Disposition value
	Uploader    string // the local user who uploaded it
	Body        io.ReadCloser
}

// OpenForFederation opens local media for GET
// /_matrix/federation/v1/media/download/{mediaId}.
func (a *API) OpenForFederation(ctx context.Context, mediaID string, query url.Values) (LocalContent, error) {
	m, err := a.localForFederation(ctx, mediaID, query)
	if err != nil {
		return LocalContent{}, err
	}
	contentType := m.ContentType
	if contentType == "" {
		contentType = octetStream
	}
	return a.openContent(m.SHA256, contentType, contentDisposition(contentType, m.Filename), m.Uploader)
}

// OpenThumbnailForFederation opens a thumbnail of local media for GET
// /_matrix/federation/v1/media/thumbnail/{mediaId}; the query carries
// width, height, method and animated as on the client endpoint.
func (a *API) OpenThumbnailForFederation(ctx context.Context, mediaID string, query url.Values) (LocalContent, error) {
	req, err := parseThumbnailRequest(&http.Request{URL: &url.URL{RawQuery: query.Encode()}})
	if err != nil {
		return LocalContent{}, err
	}
	m, err := a.localForFederation(ctx, mediaID, query)
	if err != nil {
		return LocalContent{}, err
	}
	thumb, err := a.thumbs.get(ctx, m, req)
	if err != nil {
		return LocalContent{}, err
	}
	name := "thumbnail." + extensionOf(thumb.ContentType)
	return a.openContent(thumb.SHA256, thumb.ContentType, "inline"+filenameParam(name), m.Uploader)
}

func (a *API) localForFederation(ctx context.Context, mediaID string, query url.Values) (storage.Media, error) {
	req := mediaRequest{serverName: a.ServerName, mediaID: mediaID, wait: defaultUploadWait}
	if raw := query.Get("timeout_ms"); raw != "" {
		ms, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || ms < 0 {
			return storage.Media{}, mxcore.InvalidParam("timeout_ms must be a non-negative integer")
		}
		req.wait = min(time.Duration(ms)*time.Millisecond, maxUploadWait)
	}
	return a.resolve(ctx, req)
}

func (a *API) openContent(sum, contentType, disposition, uploader string) (LocalContent, error) {
	f, err := a.Files.Open(sum)
	if err != nil {
		return LocalContent{}, fmt.Errorf("media file %s: %w", sum, err)
	}
	return LocalContent{ContentType: contentType, Disposition: disposition, Uploader: uploader, Body: f}, nil
}
