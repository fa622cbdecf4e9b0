package media

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

// Errcodes of the content repository that mxcore does not name.
const (
	errCannotOverwriteMedia = "M_CANNOT_OVERWRITE_MEDIA"
	errNotYetUploaded       = "M_NOT_YET_UPLOADED"
)

// uploadResponse is the body of POST /upload and /create.
type uploadResponse struct {
	ContentURI      string `json:"content_uri"`
	UnusedExpiresAt int64  `json:"unused_expires_at,omitempty"`
}

// upload is POST /_matrix/media/v3/upload: store the body and give it a
// new mxc:// URI.
func (a *API) upload(r *http.Request) (any, error) {
	userID, err := a.caller(r)
	if err != nil {
		return nil, err
	}
	filename, err := uploadFilename(r)
	if err != nil {
		return nil, err
	}
	sum, size, err := a.storeBody(r)
	if err != nil {
		return nil, err
	}
	now := a.now().UnixMilli()
	m := storage.Media{
		ServerName: a.ServerName, Uploader: userID,
		ContentType: normaliseContentType(r.Header.Get("Content-Type")), Filename: filename,
		Size: size, SHA256: sum, CreatedTS: now, UploadedTS: now,
	}
	if err := a.addWithFreshID(&m, func(m storage.Media) error { return a.Store.AddMedia(r.Context(), m) }); err != nil {
		return nil, err
	}
	return uploadResponse{ContentURI: mxcURI(m.ServerName, m.MediaID)}, nil
}

// create is POST /_matrix/media/v1/create: reserve an mxc:// URI whose
// content the same user uploads later.
func (a *API) create(r *http.Request) (any, error) {
	userID, err := a.caller(r)
	if err != nil {
		return nil, err
	}
	if ok, wait := a.CreateLimit.Allow(userID); !ok {
		return nil, limitExceeded(wait)
	}
	now := a.now()
	m := storage.Media{
		ServerName: a.ServerName, Uploader: userID,
		CreatedTS: now.UnixMilli(), UnusedExpiresTS: now.Add(a.UnusedExpiry).UnixMilli(),
	}
	err = a.addWithFreshID(&m, func(m storage.Media) error {
		return a.Store.ReserveMedia(r.Context(), m, a.MaxPendingUploads, now.UnixMilli())
	})
	if errors.Is(err, storage.ErrPendingLimit) {
		return nil, mxcore.NewError(http.StatusTooManyRequests, mxcore.ErrLimitExceeded,
			"You have %d media IDs waiting for uploads; upload to them or let them expire first", a.MaxPendingUploads)
	}
	if err != nil {
		return nil, err
	}
	return uploadResponse{ContentURI: mxcURI(m.ServerName, m.MediaID), UnusedExpiresAt: m.UnusedExpiresTS}, nil
}

// uploadTo is PUT /_matrix/media/v3/upload/{serverName}/{mediaId}: the
// content of a URI made by create. Every check that needs no body runs
// before the body is read, so a refused upload costs no disk.
func (a *API) uploadTo(r *http.Request) (any, error) {
	userID, err := a.caller(r)
	if err != nil {
		return nil, err
	}
	m, err := a.pendingUploadTarget(r, userID)
	if err != nil {
		return nil, err
	}
	filename, err := uploadFilename(r)
	if err != nil {
		return nil, err
	}
	sum, size, err := a.storeBody(r)
	if err != nil {
		return nil, err
	}
	m.ContentType, m.Filename = normaliseContentType(r.Header.Get("Content-Type")), filename
	m.Size, m.SHA256, m.UploadedTS = size, sum, a.now().UnixMilli()
	switch err := a.Store.CompleteMedia(r.Context(), m); {
	case errors.Is(err, storage.ErrConflict):
		return nil, cannotOverwrite()
	case errors.Is(err, storage.ErrNotFound):
		return nil, unknownMediaID()
	case err != nil:
		return nil, err
	}
	a.waiters.wake(mediaKey(m.ServerName, m.MediaID))
	return struct{}{}, nil
}

// pendingUploadTarget finds the created record a PUT may fill.
func (a *API) pendingUploadTarget(r *http.Request, userID string) (storage.Media, error) {
	serverName, mediaID := pathParam(r, "serverName"), pathParam(r, "mediaId")
	if serverName != a.ServerName || !validMediaID(mediaID) {
		return storage.Media{}, unknownMediaID()
	}
	m, err := a.Store.GetMedia(r.Context(), serverName, mediaID)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Media{}, unknownMediaID()
	}
	if err != nil {
		return storage.Media{}, err
	}
	switch {
	case m.Uploader != userID:
		return storage.Media{}, mxcore.Forbidden("Only the user who created this media ID may upload to it")
	case !m.Pending():
		return storage.Media{}, cannotOverwrite()
	case m.UnusedExpiresTS <= a.now().UnixMilli():
		return storage.Media{}, mxcore.NotFound("This media ID has expired")
	}
	return m, nil
}

// addWithFreshID gives m a new media ID and stores it with add, drawing
// again in the (astronomically unlikely) case the ID is taken.
func (a *API) addWithFreshID(m *storage.Media, add func(storage.Media) error) error {
	var err error
	for range 3 {
		m.MediaID = newMediaID()
		if err = add(*m); !errors.Is(err, storage.ErrConflict) {
			return err
		}
	}
	return fmt.Errorf("media: no free media ID after 3 draws: %w", err)
}

// storeBody writes the request body to the file store. A failure to read
// it is the client's (a dropped connection, or too many bytes); a failure
// to write is ours.
func (a *API) storeBody(r *http.Request) (sum string, size int64, err error) {
	body := &readErrRecorder{r: r.Body}
	sum, size, err = a.Files.Put(body)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(body.err, &tooBig):
		return "", 0, mxcore.TooLarge(fmt.Sprintf("Cannot upload files larger than %d bytes", tooBig.Limit))
	case body.err != nil:
		return "", 0, mxcore.Unknown("Could not read the uploaded content")
	}
	return sum, size, err
}

// readErrRecorder remembers the error its reader returned, to tell read
// failures from write failures after an io.Copy.
type readErrRecorder struct {
	r   io.Reader
	err error
}

func (e *readErrRecorder) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		e.err = err
	}
	return n, err
}

// uploadFilename returns the optional filename query parameter.
func uploadFilename(r *http.Request) (string, error) {
	name := r.URL.Query().Get("filename")
	if !validFilename(name) {
		return "", mxcore.InvalidParam(fmt.Sprintf("filename must be UTF-8 of at most %d bytes", maxFilenameBytes))
	}
	return name, nil
}

func unknownMediaID() error { return mxcore.NotFound("Unknown media ID") }

func cannotOverwrite() error {
	return mxcore.NewError(http.StatusConflict, errCannotOverwriteMedia, "Media already uploaded")
}

// limitExceeded is the 429 advising a wait of at least d, in whole
// milliseconds rounded up.
func limitExceeded(d time.Duration) error {
	return mxcore.LimitExceeded(max(int64((d+time.Millisecond-1)/time.Millisecond), 1))
}
