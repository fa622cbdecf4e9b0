package federation

import (
	"context"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
)

// MediaSource opens this server's media for other servers. Errors are
// Matrix errors (404 for unknown or quarantined media, 504 for an upload
// still pending after timeout_ms, 400 for bad thumbnail parameters).
type MediaSource interface {
	Download(ctx context.Context, mediaID string, query url.Values) (MediaContent, error)
	Thumbnail(ctx context.Context, mediaID string, query url.Values) (MediaContent, error)
}

// MediaContent is opened media.
type MediaContent struct {
	ContentType string
	Disposition string // Content-Disposition value
	Uploader    string // the local user who uploaded it, for the policy
	Body        io.ReadCloser
}

// serveMediaDownload implements GET /v1/media/download/{mediaId}.
func (rt *Routes) serveMediaDownload(r *http.Request) (*Egress, error) {
	m, err := rt.Reads.Media.Download(r.Context(), readPathParam(r, "mediaId"), r.URL.Query())
	if err != nil {
		return nil, err
	}
	return mediaEgress(m), nil
}

// serveMediaThumbnail implements GET /v1/media/thumbnail/{mediaId}.
func (rt *Routes) serveMediaThumbnail(r *http.Request) (*Egress, error) {
	m, err := rt.Reads.Media.Thumbnail(r.Context(), readPathParam(r, "mediaId"), r.URL.Query())
	if err != nil {
		return nil, err
	}
	return mediaEgress(m), nil
}

// mediaEgress answers with the multipart/mixed body the spec prescribes:
// a JSON metadata part (an empty object) and the content. The content is
// closed whether or not the policy lets it be written.
func mediaEgress(m MediaContent) *Egress {
	return &Egress{
		UserID: m.Uploader,
		Write:  func(w http.ResponseWriter, r *http.Request) { writeMultipartMedia(w, r, m) },
		Close:  func() { m.Body.Close() },
	}
}

// writeMultipartMedia streams m as the two-part federation media body.
func writeMultipartMedia(w http.ResponseWriter, r *http.Request, m MediaContent) {
	mw := multipart.NewWriter(w)
	w.Header().Set("Content-Type", "multipart/mixed; boundary="+mw.Boundary())
	w.WriteHeader(http.StatusOK)
	meta, err := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"application/json"}})
	if err == nil {
		_, err = io.WriteString(meta, "{}")
	}
	var content io.Writer
	if err == nil {
		content, err = mw.CreatePart(textproto.MIMEHeader{
			"Content-Type": {m.ContentType}, "Content-Disposition": {m.Disposition},
		})
	}
	if err == nil {
		_, err = io.Copy(content, m.Body)
	}
	if err == nil {
		err = mw.Close()
	}
	if err != nil {
		slog.DebugContext(r.Context(), "federation media download cut short", "err", err)
	}
}
