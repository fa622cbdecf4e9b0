package federation

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"

	"github.com/warbler-im/warbler/mxcore"
)

// Fetching other servers' media for local clients, over the
// authenticated federation endpoint (server-server API, "Content
// Repository"). It is inbound data, so no policy decision applies; the
// Client's network guard, TLS checks and response size bound do.

// ErrMediaNotFound: the origin server has no such media.
var ErrMediaNotFound = errors.New("federation: remote media not found")

// FetchedMedia is media downloaded from its origin.
type FetchedMedia struct {
	ContentType string
	Filename    string // from the content part's Content-Disposition, if any
	Body        io.ReadCloser
}

// MediaFetcher downloads media from the server that holds it.
type MediaFetcher struct {
	Client *Client
}

// mediaFetchWaitMs is the timeout_ms asked for: how long the origin may
// wait for an upload still in progress.
const mediaFetchWaitMs = "20000"

// FetchMedia downloads mxc://serverName/mediaID. The Client bounds the
// response; the caller bounds what it keeps.
func (f *MediaFetcher) FetchMedia(ctx context.Context, serverName, mediaID string) (FetchedMedia, error) {
	path := "/_matrix/federation/v1/media/download/" + url.PathEscape(mediaID) + "?timeout_ms=" + mediaFetchWaitMs
	resp, err := f.Client.Do(ctx, serverName, http.MethodGet, path, nil)
	if err != nil {
		return FetchedMedia{}, err
	}
	if err := resp.Err(); err != nil {
		var remote *RemoteError
		if errors.As(err, &remote) && remote.Status == http.StatusNotFound && remote.ErrCode == mxcore.ErrNotFound {
			return FetchedMedia{}, ErrMediaNotFound
		}
		return FetchedMedia{}, err
	}
	return parseMultipartMedia(resp.Header.Get("Content-Type"), resp.Body)
}

// maxMediaMetadataBytes bounds the JSON metadata part, an empty object
// today.
const maxMediaMetadataBytes = 64 << 10

// parseMultipartMedia reads the two-part multipart/mixed download body:
// JSON metadata, then the content. A content part that only points
// elsewhere (a Location header) is not followed: a fetch is made only to
// the server the media belongs to.
func parseMultipartMedia(contentType string, body []byte) (FetchedMedia, error) {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil || mediaType != "multipart/mixed" || params["boundary"] == "" {
		return FetchedMedia{}, fmt.Errorf("federation media: response is %q, not multipart/mixed", contentType)
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	meta, err := mr.NextPart()
	if err != nil {
		return FetchedMedia{}, fmt.Errorf("federation media: metadata part: %w", err)
	}
	if _, err := io.Copy(io.Discard, io.LimitReader(meta, maxMediaMetadataBytes)); err != nil {
		return FetchedMedia{}, fmt.Errorf("federation media: metadata part: %w", err)
	}
	content, err := mr.NextPart()
	if err != nil {
		return FetchedMedia{}, fmt.Errorf("federation media: content part: %w", err)
	}
	if content.Header.Get("Location") != "" {
		return FetchedMedia{}, errors.New("federation media: the origin redirects to another location, which is not followed")
	}
	return FetchedMedia{
		ContentType: content.Header.Get("Content-Type"),
		Filename:    dispositionFilename(content.Header.Get("Content-Disposition")),
		Body:        io.NopCloser(content), // reads from the body in memory
	}, nil
}

// dispositionFilename reads the filename of a Content-Disposition value
// (mime decodes the RFC 5987 filename* form); "" when it has none.
func dispositionFilename(value string) string {
	if value == "" {
		return ""
	}
	_, params, err := mime.ParseMediaType(value)
	if err != nil {
		return ""
	}
	return params["filename"]
}
