package media

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/internal/ratelimit"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

// API holds the content repository's dependencies. Set the exported
// fields, then call Mount once.
type API struct {
	ServerName string
	Store      storage.MediaStore
	Files      *FileStore

	// MaxUploadBytes bounds uploads; they are exempt from MaxRequestBytes,
	// which bounds the bodies of the other media endpoints.
	MaxUploadBytes  int64
	MaxRequestBytes int64
	// LegacyUnauthenticated serves local media on the deprecated
	// unauthenticated download and thumbnail endpoints; off, they are
	// frozen as the spec asks and answer 404 for all media.
	LegacyUnauthenticated bool
	// UnusedExpiry is how long a created mxc:// URI waits for its upload.
	UnusedExpiry time.Duration
	// MaxPendingUploads bounds each user's created, not yet uploaded URIs.
	MaxPendingUploads int
	// CreateLimit throttles /create per user; nil does not limit.
	CreateLimit *ratelimit.Limiter

	// RequireAuth rejects requests without a valid access token and
	// records the caller; UserID reads the caller back. The client API
	// provides both.
	RequireAuth func(http.Handler) http.Handler
	UserID      func(ctx context.Context) (string, bool)

	// Previews serves /preview_url; nil turns URL previews off.
	Previews *Previewer

	// Remote fetches other servers' media; nil until federation provides
	// it, and then such requests answer 404.
	Remote RemoteFetcher
	Now    func() time.Time

	waiters *uploadWaiters
	thumbs  *thumbnailer
	fetches *flightGroup[storage.Media]
}

// Mount registers the media endpoints on r. Uploads get their own body
// limit, MaxUploadBytes, so r must not impose a smaller one on them.
func (a *API) Mount(r chi.Router) {
	a.init()
	r.Route("/_matrix/media/{version:v3|r0}", a.mountLegacy)
	r.With(mxhttp.LimitBody(a.MaxRequestBytes), a.RequireAuth).
		Post("/_matrix/media/v1/create", a.handle(a.create))
	r.Route("/_matrix/client/v1/media", func(r chi.Router) {
		r.Use(mxhttp.LimitBody(a.MaxRequestBytes), a.RequireAuth)
		a.mountReads(r, true)
	})
}

// mountLegacy registers the /_matrix/media/v3 endpoints: the uploads,
// which are still current, and the deprecated reads.
func (a *API) mountLegacy(r chi.Router) {
	r.Group(func(r chi.Router) {
		r.Use(allowSlowUploads, a.RequireAuth, mxhttp.LimitBody(a.MaxUploadBytes))
		r.Post("/upload", a.handle(a.upload))
		r.Put("/upload/{serverName}/{mediaId}", a.handle(a.uploadTo))
	})
	r.Group(func(r chi.Router) {
		r.Use(mxhttp.LimitBody(a.MaxRequestBytes))
		a.mountReads(r, false)
	})
}

// mountReads registers download, thumbnail, config and preview_url.
// Config and preview_url need a token on both paths; the legacy download
// and thumbnail endpoints do not.
func (a *API) mountReads(r chi.Router, authenticated bool) {
	r.Get("/download/{serverName}/{mediaId}", a.downloadHandler(authenticated))
	r.Get("/download/{serverName}/{mediaId}/{fileName}", a.downloadHandler(authenticated))
	r.Get("/thumbnail/{serverName}/{mediaId}", a.thumbnailHandler(authenticated))
	auth := func(h http.Handler) http.Handler { return h }
	if !authenticated {
		auth = a.RequireAuth
	}
	r.With(auth).Get("/config", a.handle(a.config))
	r.With(auth).Get("/preview_url", a.handle(a.previewURL))
}

// uploadReadTimeout replaces the server's read timeout for upload bodies,
// which is sized for small requests: 50 MiB over a slow mobile link can
// take minutes.
const uploadReadTimeout = 15 * time.Minute

// allowSlowUploads extends the connection's read deadline for an upload.
// It needs every ResponseWriter wrapper between the server and here to
// offer Unwrap; where one does not, the server's timeout stays, and the
// upload is only as slow as that allows.
func allowSlowUploads(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := http.NewResponseController(w).SetReadDeadline(time.Now().Add(uploadReadTimeout))
		if err != nil && !errors.Is(err, http.ErrNotSupported) {
			slog.DebugContext(r.Context(), "extending upload read deadline", "err", err)
		}
		next.ServeHTTP(w, r)
	})
}

func (a *API) init() {
	a.waiters = newUploadWaiters()
	a.thumbs = newThumbnailer(a)
	a.fetches = newFlightGroup[storage.Media]()
}

func (a *API) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *API) config(*http.Request) (any, error) {
	return map[string]any{"m.upload.size": a.MaxUploadBytes}, nil
}

// caller returns the authenticated user of the request.
func (a *API) caller(r *http.Request) (string, error) {
	userID, ok := a.UserID(r.Context())
	if !ok {
		return "", mxcore.MissingToken()
	}
	return userID, nil
}

// handle adapts a JSON endpoint; mxhttp writes errors, Retry-After included.
func (a *API) handle(h mxhttp.Handler) http.HandlerFunc { return mxhttp.JSON(h) }

// pathParam returns a path parameter decoded. chi matches on the escaped
// path when the request's path has escapes that differ from the default
// encoding, and then hands back escaped values.
func pathParam(r *http.Request, name string) string { return mxhttp.PathParam(r, name) }
