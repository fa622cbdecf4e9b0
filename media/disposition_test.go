package media

import (
	"net/http"
	"testing"
)

func TestContentDisposition(t *testing.T) {
	cases := []struct {
		name, contentType, filename, want string
	}{
		{"image inline", "image/png", "cat.png", `inline; filename="cat.png"`},
		{"params do not matter", "text/plain; charset=utf-8", "notes.txt", `inline; filename="notes.txt"`},
		{"no filename", "video/mp4", "", "inline"},
		{"html is an attachment", "text/html", "page.html", `attachment; filename="page.html"`},
		{"svg is an attachment", "image/svg+xml", "logo.svg", `attachment; filename="logo.svg"`},
		{"xhtml is an attachment", "application/xhtml+xml", "", "attachment"},
		{"javascript is an attachment", "application/javascript", "x.js", `attachment; filename="x.js"`},
		{"pdf is an attachment", "application/pdf", "War and Peace.pdf", `attachment; filename="War and Peace.pdf"`},
		{"unparsable type", "image/png;;;", "a", `attachment; filename="a"`},
		{"unicode name", "image/jpeg", "Grüße 猫.jpg", `inline; filename*=utf-8''Gr%C3%BC%C3%9Fe%20%E7%8C%AB.jpg`},
		{"quote in name", "image/jpeg", `say "hi".jpg`, `inline; filename*=utf-8''say%20%22hi%22.jpg`},
		{"header injection", "text/plain", "a\r\nSet-Cookie: x=1", `inline; filename*=utf-8''a%0D%0ASet-Cookie%3A%20x%3D1`},
		{"backslash and semicolon", "text/plain", `a\b;c`, `inline; filename*=utf-8''a%5Cb%3Bc`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := contentDisposition(tc.contentType, tc.filename); got != tc.want {
				t.Errorf("contentDisposition(%q, %q) = %q, want %q", tc.contentType, tc.filename, got, tc.want)
			}
		})
	}
}

func TestNormaliseContentType(t *testing.T) {
	cases := map[string]string{
		"":                          octetStream,
		"   ":                       octetStream,
		"image/PNG":                 "image/png",
		"text/plain; charset=UTF-8": "text/plain; charset=UTF-8",
		"not a type":                octetStream,
		"text/plain\r\nX-Evil: 1":   octetStream,
		"application/pdf":           "application/pdf",
	}
	for in, want := range cases {
		if got := normaliseContentType(in); got != want {
			t.Errorf("normaliseContentType(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestValidFilename(t *testing.T) {
	long := make([]byte, maxFilenameBytes+1)
	for i := range long {
		long[i] = 'a'
	}
	for name, want := range map[string]bool{"": true, "ok.png": true, "Grüße.txt": true, "\xff\xfe": false, string(long): false} {
		if got := validFilename(name); got != want {
			t.Errorf("validFilename(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestSafetyHeaders(t *testing.T) {
	h := http.Header{}
	setSafetyHeaders(h)
	if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Cross-Origin-Resource-Policy") != "cross-origin" {
		t.Errorf("headers: %v", h)
	}
	if csp := h.Get("Content-Security-Policy"); csp == "" || csp[:8] != "sandbox;" {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
}

func TestMediaIDs(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := newMediaID()
		if len(id) != mediaIDLength || !validMediaID(id) || seen[id] {
			t.Fatalf("bad or repeated media ID %q", id)
		}
		seen[id] = true
	}
	for _, bad := range []string{"", "../etc/passwd", "a/b", "a.b", "%2e%2e", "ä", string(make([]byte, 256))} {
		if validMediaID(bad) {
			t.Errorf("validMediaID(%q) = true", bad)
		}
	}
	if !validMediaID("AZaz09_-") {
		t.Error("the spec's alphabet is refused")
	}
}
