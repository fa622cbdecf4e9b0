package media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"net/http"
	"strconv"

	"github.com/warbler-im/warbler/internal/cpus"
	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

// thumbnailRequest is the query of a thumbnail request.
type thumbnailRequest struct {
	Width, Height int
	Method        string
	Animated      bool
}

// parseThumbnailRequest reads width, height, method and animated.
func parseThumbnailRequest(r *http.Request) (thumbnailRequest, error) {
	q := r.URL.Query()
	req := thumbnailRequest{Method: q.Get("method"), Animated: q.Get("animated") == "true"}
	if req.Method == "" {
		req.Method = methodScale
	}
	if req.Method != methodScale && req.Method != methodCrop {
		return req, mxcore.InvalidParam("method must be crop or scale")
	}
	var err error
	if req.Width, err = positiveParam(q.Get("width"), "width"); err != nil {
		return req, err
	}
	req.Height, err = positiveParam(q.Get("height"), "height")
	return req, err
}

func positiveParam(raw, name string) (int, error) {
	if raw == "" {
		return 0, mxcore.MissingParam(name + " is required")
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n <= 0 {
		return 0, mxcore.InvalidParam(name + " must be a positive integer")
	}
	return n, nil
}

// thumbnailHandler serves GET …/thumbnail/{serverName}/{mediaId}.
func (a *API) thumbnailHandler(authenticated bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		req, err := parseThumbnailRequest(r)
		if err != nil {
			mxhttp.WriteError(w, r, err)
			return
		}
		m, err := a.lookupForServing(r, authenticated)
		if err != nil {
			mxhttp.WriteError(w, r, err)
			return
		}
		thumb, err := a.thumbs.get(r.Context(), m, req)
		if err != nil {
			mxhttp.WriteError(w, r, err)
			return
		}
		name := "thumbnail." + extensionOf(thumb.ContentType)
		a.serveStored(w, r, thumb.SHA256, thumb.ContentType, "inline"+filenameParam(name))
	}
}

func extensionOf(contentType string) string {
	switch contentType {
	case "image/jpeg":
		return "jpg"
	case "image/png":
		return "png"
	case "image/gif":
		return "gif"
	case "image/webp":
		return "webp"
	}
	return "bin"
}

// servedImage is the stored file a thumbnail request is answered with.
type servedImage struct {
	SHA256, ContentType string
}

// thumbnailer makes and caches thumbnails. Generation runs at most once
// per thumbnail at a time, and at most a few at once overall: each holds
// a decoded image of up to maxImagePixels in memory.
type thumbnailer struct {
	api     *API
	flights *flightGroup[servedImage]
	slots   chan struct{}
}

func newThumbnailer(a *API) *thumbnailer {
	return &thumbnailer{
		api:     a,
		flights: newFlightGroup[servedImage](),
		slots:   make(chan struct{}, max(1, cpus.N)),
	}
}

// get returns the thumbnail for a request: a cached one, the original when
// it already fits (the spec forbids upscaling), or a new one.
func (t *thumbnailer) get(ctx context.Context, m storage.Media, req thumbnailRequest) (servedImage, error) {
	box, preset := choosePreset(req.Width, req.Height, req.Method)
	if preset {
		if cached, ok := t.cached(ctx, m, box); ok {
			return cached, nil
		}
	}
	src, err := t.api.Files.Open(m.SHA256)
	if err != nil {
		return servedImage{}, err
	}
	defer src.Close()
	info, err := inspectImage(src)
	if err != nil {
		return servedImage{}, thumbnailError(err)
	}
	if !preset {
		// Larger than every preset: the full-size image, one per media.
		box = thumbSize{Width: info.Width, Height: info.Height, Method: methodScale}
	}
	plan := planThumbnail(info.Width, info.Height, box)
	if plan.Original && canServeOriginal(src, info.Format, req.Animated) {
		return servedImage{SHA256: m.SHA256, ContentType: "image/" + info.Format}, nil
	}
	if !preset {
		if cached, ok := t.cached(ctx, m, box); ok {
			return cached, nil
		}
	}
	key := fmt.Sprintf("%s/%dx%d/%s", mediaKey(m.ServerName, m.MediaID), box.Width, box.Height, box.Method)
	return t.flights.do(key, func() (servedImage, error) {
		return t.generate(context.WithoutCancel(ctx), m, src, info, box)
	})
}

// canServeOriginal reports whether an image that needs no resizing may be
// its own thumbnail: it must be of a thumbnail content type, and one that
// animates only when the client asked for animation (the spec forbids
// animated thumbnails otherwise). GIF and WebP are taken as animated
// without looking further; a PNG is checked for APNG.
func canServeOriginal(src io.ReadSeeker, format string, animated bool) bool {
	switch format {
	case "jpeg":
		return true
	case "png":
		return animated || !isAnimatedPNG(src)
	case "gif", "webp":
		return animated
	}
	return false
}

// cached looks up a stored thumbnail whose file is still there.
func (t *thumbnailer) cached(ctx context.Context, m storage.Media, box thumbSize) (servedImage, bool) {
	th, err := t.api.Store.GetMediaThumbnail(ctx, m.ServerName, m.MediaID, box.Width, box.Height, box.Method)
	if err != nil || !t.api.Files.Has(th.SHA256) {
		return servedImage{}, false
	}
	return servedImage{SHA256: th.SHA256, ContentType: th.ContentType}, true
}

// generate decodes, resizes, encodes and stores one thumbnail.
func (t *thumbnailer) generate(ctx context.Context, m storage.Media, src io.ReadSeeker, info imageInfo, box thumbSize) (servedImage, error) {
	t.slots <- struct{}{}
	defer func() { <-t.slots }()
	img, err := decodeImage(src, info)
	if err != nil {
		return servedImage{}, thumbnailError(err)
	}
	// A GIF's first frame may be smaller than its declared screen; plan
	// with what was decoded.
	size := img.Bounds().Size()
	plan := planThumbnail(size.X, size.Y, box)
	if plan.Original {
		plan = thumbPlan{Source: image.Rect(0, 0, size.X, size.Y), Width: size.X, Height: size.Y}
	}
	data, contentType, err := encodeThumbnail(renderThumbnail(img, plan), info.Format)
	if err != nil {
		return servedImage{}, err
	}
	return t.store(ctx, m, box, data, contentType)
}

// store writes a generated thumbnail to the file store and records it.
func (t *thumbnailer) store(ctx context.Context, m storage.Media, box thumbSize, data []byte, contentType string) (servedImage, error) {
	sum, size, err := t.api.Files.Put(bytes.NewReader(data))
	if err != nil {
		return servedImage{}, err
	}
	err = t.api.Store.PutMediaThumbnail(ctx, storage.MediaThumbnail{
		ServerName: m.ServerName, MediaID: m.MediaID, Width: box.Width, Height: box.Height, Method: box.Method,
		ContentType: contentType, Size: size, SHA256: sum, CreatedTS: t.api.now().UnixMilli(),
	})
	if err != nil {
		return servedImage{}, err
	}
	return servedImage{SHA256: sum, ContentType: contentType}, nil
}

// thumbnailError maps image errors to the spec's answers: 413 for images
// too large to thumbnail, 400 for content that cannot be thumbnailed.
func thumbnailError(err error) error {
	switch {
	case errors.Is(err, errImageTooLarge):
		return mxcore.TooLarge("Content is too large to thumbnail")
	case errors.Is(err, errNotImage):
		return mxcore.Unknown("Cannot generate thumbnails for the requested content")
	}
	return err
}
