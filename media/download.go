package media

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

const (
	// defaultUploadWait is how long a download waits for pending content
	// when the client names no timeout_ms, as the spec sets it.
	defaultUploadWait = 20 * time.Second
	// maxUploadWait caps timeout_ms, as the spec asks servers to.
	maxUploadWait = 60 * time.Second
)

// mediaRequest is what download and thumbnail requests share: which media,
// and how to reach it.
type mediaRequest struct {
	serverName, mediaID string
	allowRemote         bool
	wait                time.Duration
}

// parseMediaRequest reads the path and the shared query parameters.
func parseMediaRequest(r *http.Request) (mediaRequest, error) {
	q := r.URL.Query()
	req := mediaRequest{
		serverName: pathParam(r, "serverName"), mediaID: pathParam(r, "mediaId"),
		allowRemote: q.Get("allow_remote") != "false", wait: defaultUploadWait,
	}
	if raw := q.Get("timeout_ms"); raw != "" {
		ms, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || ms < 0 {
			return req, mxcore.InvalidParam("timeout_ms must be a non-negative integer")
		}
		req.wait = min(time.Duration(ms)*time.Millisecond, maxUploadWait)
	}
	return req, nil
}

// downloadHandler serves GET …/download/{serverName}/{mediaId}[/{fileName}].
func (a *API) downloadHandler(authenticated bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		m, err := a.lookupForServing(r, authenticated)
		if err != nil {
			mxhttp.WriteError(w, r, err)
			return
		}
		filename := m.Filename
		if override := pathParam(r, "fileName"); override != "" {
			filename = override
		}
		contentType := m.ContentType
		if contentType == "" {
			contentType = octetStream
		}
		a.serveStored(w, r, m.SHA256, contentType, contentDisposition(contentType, filename))
	}
}

// lookupForServing parses a download or thumbnail request and finds its
// media, honouring the freeze of the unauthenticated endpoints.
func (a *API) lookupForServing(r *http.Request, authenticated bool) (storage.Media, error) {
	if !authenticated && !a.LegacyUnauthenticated {
		return storage.Media{}, mxcore.NotFound(
			"Unauthenticated media access is frozen on this server: use /_matrix/client/v1/media with an access token")
	}
	req, err := parseMediaRequest(r)
	if err != nil {
		return storage.Media{}, err
	}
	return a.resolve(r.Context(), req)
}

// resolve finds servable media: local, or cached from its origin server.
func (a *API) resolve(ctx context.Context, req mediaRequest) (storage.Media, error) {
	if !validServerName(req.serverName) || !validMediaID(req.mediaID) {
		return storage.Media{}, mediaNotFound()
	}
	if req.serverName != a.ServerName {
		return a.resolveRemote(ctx, req)
	}
	m, err := a.Store.GetMedia(ctx, req.serverName, req.mediaID)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Media{}, mediaNotFound()
	}
	if err != nil {
		return storage.Media{}, err
	}
	if m.Pending() {
		if m, err = a.awaitUpload(ctx, m, req.wait); err != nil {
			return storage.Media{}, err
		}
	}
	if m.Quarantined {
		return storage.Media{}, mediaNotFound()
	}
	return m, nil
}

// awaitUpload waits up to wait for content to reach a pending record. An
// upload in this process wakes the wait at once; the periodic re-read
// notices uploads that other processes sharing the database took.
func (a *API) awaitUpload(ctx context.Context, m storage.Media, wait time.Duration) (storage.Media, error) {
	const recheck = time.Second
	woken, release := a.waiters.watch(mediaKey(m.ServerName, m.MediaID))
	defer release()
	deadline := time.Now().Add(wait)
	for {
		fresh, err := a.Store.GetMedia(ctx, m.ServerName, m.MediaID)
		if err != nil {
			return storage.Media{}, notFoundIsNotFound(err)
		}
		if !fresh.Pending() {
			return fresh, nil
		}
		if fresh.UnusedExpiresTS <= a.now().UnixMilli() {
			return storage.Media{}, mediaNotFound()
		}
		left := time.Until(deadline)
		if left <= 0 {
			return storage.Media{}, mxcore.NewError(http.StatusGatewayTimeout, errNotYetUploaded, "Content has not yet been uploaded")
		}
		if err := sleepOrWake(ctx, min(left, recheck), woken); err != nil {
			return storage.Media{}, err
		}
		woken = nil // fired once; a closed channel would spin the loop
	}
}

// sleepOrWake waits for d, a wake-up or the request's end.
func sleepOrWake(ctx context.Context, d time.Duration, woken <-chan struct{}) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-woken:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// serveStored writes a stored file with the media safety headers. Ranges
// and conditional requests are handled for it, since clients seek in
// video and audio; the content hash is the ETag.
func (a *API) serveStored(w http.ResponseWriter, r *http.Request, sum, contentType, disposition string) {
	f, err := a.Files.Open(sum)
	if err != nil {
		if isNotExist(err) {
			err = fmt.Errorf("media file %s is missing from the store: %w", sum, err)
		}
		mxhttp.WriteError(w, r, err)
		return
	}
	defer f.Close()
	h := w.Header()
	setSafetyHeaders(h)
	h.Set("Content-Type", contentType)
	h.Set("Content-Disposition", disposition)
	h.Set("ETag", `"`+sum+`"`)
	// Content never changes under an mxc:// URI, but it may be quarantined
	// later, so caches keep it a day rather than for ever.
	h.Set("Cache-Control", "private, max-age=86400")
	// No Last-Modified: a deduplicated file's time is that of its first
	// upload, which may be someone else's.
	http.ServeContent(w, r, "", time.Time{}, f)
}

func mediaNotFound() error { return mxcore.NotFound("Media not found") }

func notFoundIsNotFound(err error) error {
	if errors.Is(err, storage.ErrNotFound) {
		return mediaNotFound()
	}
	return err
}
