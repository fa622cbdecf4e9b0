package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

// RemoteFetcher downloads media from the server that holds it, over the
// federation API (GET /_matrix/federation/v1/media/download/{mediaId}).
// The federation code implements it; until it does, API.Remote is nil and
// requests for other servers' media answer 404.
type RemoteFetcher interface {
	// FetchMedia starts the download of mxc://serverName/mediaID. It
	// returns ErrRemoteNotFound when the origin has no such media.
	FetchMedia(ctx context.Context, serverName, mediaID string) (RemoteMedia, error)
}

// RemoteMedia is a download in progress from another server.
type RemoteMedia struct {
	ContentType string // as the origin declared it
	Filename    string // from the origin's Content-Disposition, if any
	Body        io.ReadCloser
}

// ErrRemoteNotFound is what a RemoteFetcher returns for media its origin
// does not have.
var ErrRemoteNotFound = errors.New("media: remote media not found")

// resolveRemote serves other servers' media from the local cache, filling
// it from the origin on first use. Concurrent requests for the same media
// share one fetch.
func (a *API) resolveRemote(ctx context.Context, req mediaRequest) (storage.Media, error) {
	if a.Remote == nil {
		return storage.Media{}, mxcore.NotFound("Remote media is not available yet: this server cannot fetch media from other servers")
	}
	m, err := a.Store.GetMedia(ctx, req.serverName, req.mediaID)
	if err == nil {
		return servable(m)
	}
	if !errors.Is(err, storage.ErrNotFound) {
		return storage.Media{}, err
	}
	if !req.allowRemote {
		return storage.Media{}, mediaNotFound()
	}
	m, err = a.fetches.do(mediaKey(req.serverName, req.mediaID), func() (storage.Media, error) {
		// Not tied to one request: a client that gives up should not
		// break the fetch the others wait on.
		return a.fetchAndCache(context.WithoutCancel(ctx), req.serverName, req.mediaID)
	})
	if err != nil {
		return storage.Media{}, err
	}
	return servable(m)
}

func servable(m storage.Media) (storage.Media, error) {
	if m.Quarantined {
		return storage.Media{}, mediaNotFound()
	}
	return m, nil
}

// fetchAndCache downloads remote media into the file store and records it.
// Content over MaxUploadBytes is refused with 502 M_TOO_LARGE, as the spec
// asks for remote media too large to proxy.
func (a *API) fetchAndCache(ctx context.Context, serverName, mediaID string) (storage.Media, error) {
	remote, err := a.Remote.FetchMedia(ctx, serverName, mediaID)
	if errors.Is(err, ErrRemoteNotFound) {
		return storage.Media{}, mediaNotFound()
	}
	if err != nil {
		return storage.Media{}, mxcore.NewError(http.StatusBadGateway, mxcore.ErrUnknown, "Could not fetch the media from %s", serverName)
	}
	defer remote.Body.Close()
	limited := &io.LimitedReader{R: remote.Body, N: a.MaxUploadBytes + 1}
	sum, size, err := a.Files.Put(limited)
	if err != nil {
		return storage.Media{}, fmt.Errorf("caching remote media: %w", err)
	}
	if size > a.MaxUploadBytes {
		return storage.Media{}, mxcore.NewError(http.StatusBadGateway, mxcore.ErrTooLarge, "Remote content is too large to serve")
	}
	now := a.now().UnixMilli()
	m := storage.Media{
		ServerName: serverName, MediaID: mediaID, ContentType: normaliseContentType(remote.ContentType),
		Filename: remote.Filename, Size: size, SHA256: sum, CreatedTS: now, UploadedTS: now,
	}
	if !validFilename(m.Filename) {
		m.Filename = ""
	}
	if err := a.Store.AddMedia(ctx, m); errors.Is(err, storage.ErrConflict) {
		// Another process cached it first; its record is as good.
		return a.Store.GetMedia(ctx, serverName, mediaID)
	} else if err != nil {
		return storage.Media{}, err
	}
	return m, nil
}

var errFlightAborted = errors.New("media: shared call ended without a result")

func mediaKey(serverName, mediaID string) string { return serverName + "/" + mediaID }

// flightGroup runs one call per key at a time and gives its result to
// every caller that asked for the key meanwhile.
type flightGroup[T any] struct {
	mu    sync.Mutex
	calls map[string]*flight[T]
}

type flight[T any] struct {
	done  chan struct{}
	value T
	err   error
}

func newFlightGroup[T any]() *flightGroup[T] {
	return &flightGroup[T]{calls: make(map[string]*flight[T])}
}

func (g *flightGroup[T]) do(key string, fn func() (T, error)) (T, error) {
	g.mu.Lock()
	if f, ok := g.calls[key]; ok {
		g.mu.Unlock()
		<-f.done
		return f.value, f.err
	}
	// The error stands if fn panics, so waiters never take a zero value
	// for a result.
	f := &flight[T]{done: make(chan struct{}), err: errFlightAborted}
	g.calls[key] = f
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		delete(g.calls, key)
		g.mu.Unlock()
		close(f.done)
	}()
	f.value, f.err = fn()
	return f.value, f.err
}
