package media

import (
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"
)

// inlineTypes are the content types the spec's "serving inline content"
// section lists as unlikely to be run by a browser. Anything else, HTML
// and SVG above all, is served as an attachment.
var inlineTypes = map[string]bool{
	"text/css": true, "text/plain": true, "text/csv": true,
	"application/json": true, "application/ld+json": true,
	"image/jpeg": true, "image/gif": true, "image/png": true, "image/apng": true,
	"image/webp": true, "image/avif": true,
	"video/mp4": true, "video/webm": true, "video/ogg": true, "video/quicktime": true,
	"audio/mp4": true, "audio/webm": true, "audio/aac": true, "audio/mpeg": true,
	"audio/ogg": true, "audio/wave": true, "audio/wav": true, "audio/x-wav": true,
	"audio/x-pn-wav": true, "audio/flac": true, "audio/x-flac": true,
}

const octetStream = "application/octet-stream"

// contentSecurityPolicy is the policy the spec recommends for media: even
// if a browser were to render something, it gets no scripts, no plugins
// but PDF and no origin.
const contentSecurityPolicy = "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; style-src 'unsafe-inline'; object-src 'self';"

// normaliseContentType turns an uploader's Content-Type header into the
// value stored and served: parsed and re-formatted so nothing odd reaches
// a response header, and application/octet-stream when it is missing or
// does not parse, as the spec allows.
func normaliseContentType(header string) string {
	if strings.TrimSpace(header) == "" {
		return octetStream
	}
	mediaType, params, err := mime.ParseMediaType(header)
	if err != nil {
		return octetStream
	}
	if formatted := mime.FormatMediaType(mediaType, params); formatted != "" {
		return formatted
	}
	return octetStream
}

// servesInline reports whether content of this type may be shown inline.
// Parameters such as charset do not change the answer.
func servesInline(contentType string) bool {
	mediaType, _, err := mime.ParseMediaType(contentType)
	return err == nil && inlineTypes[mediaType]
}

// contentDisposition builds the header for a download: inline only for the
// allow-listed types, attachment otherwise, and the file name (if any)
// encoded so that no byte of it can break out of the header.
func contentDisposition(contentType, filename string) string {
	disposition := "attachment"
	if servesInline(contentType) {
		disposition = "inline"
	}
	return disposition + filenameParam(filename)
}

// filenameParam encodes a file name per RFC 6266: a plain quoted filename
// when it is printable ASCII without quotes or backslashes (which browsers
// unescape inconsistently), else the RFC 5987 filename* form, which
// percent-encodes its UTF-8 bytes.
func filenameParam(filename string) string {
	if filename == "" {
		return ""
	}
	if isPlainASCII(filename) {
		return `; filename="` + filename + `"`
	}
	return "; filename*=utf-8''" + percentEncode(filename)
}

func isPlainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// percentEncode keeps RFC 5987's attr-char set and encodes every other
// byte.
func percentEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isAttrChar(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xf])
	}
	return b.String()
}

func isAttrChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$&+-.^_`|~", c) >= 0
}

// maxFilenameBytes bounds the stored file name; names longer than any
// file system allows are not file names.
const maxFilenameBytes = 1024

// validFilename reports whether an upload's file name can be stored and
// given back unchanged.
func validFilename(name string) bool {
	return len(name) <= maxFilenameBytes && utf8.ValidString(name)
}

// setSafetyHeaders adds the headers every media response carries: the
// sandboxing policy, no content sniffing (so a browser keeps to the
// declared type), and cross-origin use for web clients.
func setSafetyHeaders(h http.Header) {
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
}
