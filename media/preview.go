package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/charset"

	"github.com/warbler-im/warbler/internal/netguard"
	"github.com/warbler-im/warbler/internal/ratelimit"
	"github.com/warbler-im/warbler/mxcore"
)

// Bounds of one preview fetch.
const (
	previewTimeout      = 10 * time.Second
	previewMaxBytes     = 1 << 20
	previewMaxRedirects = 5
	previewCacheTTL     = time.Hour
	previewCacheEntries = 10_000
	previewMaxFields    = 32
	previewMaxValueLen  = 1000
)

// errInternalAddress is the refusal of a connection to an internal address.
var errInternalAddress = errors.New("media: URL preview of an internal address refused")

// Previewer fetches web pages for /preview_url. Every connection it makes,
// including after redirects, is checked against the address the name
// resolved to, so neither a hostile DNS answer nor a redirect can point it
// at this server's own network.
type Previewer struct {
	client *http.Client
	guard  *netguard.Guard
	limit  *ratelimit.Limiter
	cache  *previewCache
}

// NewPreviewer builds a previewer. allowedNetworks (CIDRs) may be reached
// although internal; limit throttles fetches per user (nil: unlimited).
func NewPreviewer(allowedNetworks []string, limit *ratelimit.Limiter) (*Previewer, error) {
	guard, err := netguard.New(allowedNetworks)
	if err != nil {
		return nil, fmt.Errorf("url preview: %w", err)
	}
	p := &Previewer{guard: guard, limit: limit, cache: newPreviewCache()}
	dialer := &net.Dialer{Timeout: previewTimeout, Control: p.checkDial}
	p.client = &http.Client{
		Timeout: previewTimeout,
		Transport: &http.Transport{
			Proxy:                 nil, // a proxy would connect for us, unchecked
			DialContext:           dialer.DialContext,
			ForceAttemptHTTP2:     true,
			TLSHandshakeTimeout:   previewTimeout,
			ResponseHeaderTimeout: previewTimeout,
			MaxIdleConns:          16,
			IdleConnTimeout:       30 * time.Second,
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= previewMaxRedirects {
				return errors.New("too many redirects")
			}
			return checkPreviewURL(req.URL)
		},
	}
	return p, nil
}

// checkDial runs after DNS resolution, for each address actually dialled.
func (p *Previewer) checkDial(_, address string, _ syscall.RawConn) error {
	addrPort, err := netip.ParseAddrPort(address)
	if err != nil {
		return errInternalAddress
	}
	if !p.guard.Permits(addrPort.Addr()) {
		return errInternalAddress
	}
	return nil
}

// checkPreviewURL accepts absolute http and https URLs only.
func checkPreviewURL(u *url.URL) error {
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return mxcore.InvalidParam("url must be an absolute http or https URL without credentials")
	}
	return nil
}

// previewURL is GET …/preview_url. Without a Previewer it answers
// honestly that previews are off.
func (a *API) previewURL(r *http.Request) (any, error) {
	if a.Previews == nil {
		return nil, mxcore.Unrecognized(http.StatusNotFound, "URL previews are not enabled on this server")
	}
	userID, err := a.caller(r)
	if err != nil {
		return nil, err
	}
	raw := r.URL.Query().Get("url")
	if raw == "" {
		return nil, mxcore.MissingParam("url is required")
	}
	target, err := url.Parse(raw)
	if err != nil {
		return nil, mxcore.InvalidParam("url is not a URL")
	}
	if err := checkPreviewURL(target); err != nil {
		return nil, err
	}
	return a.Previews.preview(r.Context(), userID, target)
}

// preview answers from the cache or fetches the page.
func (p *Previewer) preview(ctx context.Context, userID string, target *url.URL) (map[string]any, error) {
	target.Fragment = "" // never sent; one page however it is linked
	key := target.String()
	if fields, ok := p.cache.get(key); ok {
		return fields, nil
	}
	if ok, wait := p.limit.Allow(userID); !ok {
		return nil, limitExceeded(wait)
	}
	fields, err := p.fetch(ctx, target)
	if errors.Is(err, errInternalAddress) {
		return nil, mxcore.Forbidden("URL previews of internal addresses are not allowed")
	}
	if err != nil {
		return nil, mxcore.NewError(http.StatusBadGateway, mxcore.ErrUnknown, "Could not fetch the URL to preview it")
	}
	p.cache.put(key, fields)
	return fields, nil
}

// fetch downloads up to previewMaxBytes of the page and reads its head.
// Anything but HTML previews as an empty object, which the spec allows.
func (p *Previewer) fetch(ctx context.Context, target *url.URL) (map[string]any, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "Warbler URL preview")
	req.Header.Set("Accept", "text/html, application/xhtml+xml;q=0.9, */*;q=0.1")
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("preview fetch: status %d", resp.StatusCode)
	}
	contentType := resp.Header.Get("Content-Type")
	if mediaType, _, _ := mime.ParseMediaType(contentType); mediaType != "text/html" && mediaType != "application/xhtml+xml" {
		return map[string]any{}, nil
	}
	body, err := charset.NewReader(io.LimitReader(resp.Body, previewMaxBytes), contentType)
	if err != nil {
		return map[string]any{}, nil // an unknown charset: nothing readable
	}
	return parsePreview(body), nil
}

// parsePreview reads the OpenGraph fields of an HTML head, falling back to
// <title> and the description meta tag. og:image fields are left out: the
// spec wants them as mxc:// URIs, and this server does not copy page
// images into its media repository.
func parsePreview(r io.Reader) map[string]any {
	z := html.NewTokenizer(r)
	fields := map[string]any{}
	var title, description string
	for len(fields) < previewMaxFields {
		switch z.Next() {
		case html.ErrorToken:
			return withFallbacks(fields, title, description)
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			switch string(name) {
			case "meta":
				if hasAttr {
					readMeta(z, fields, &description)
				}
			case "title":
				if z.Next() == html.TextToken && title == "" {
					title = clip(string(z.Text()))
				}
			case "body":
				return withFallbacks(fields, title, description)
			}
		case html.EndTagToken:
			if name, _ := z.TagName(); string(name) == "head" {
				return withFallbacks(fields, title, description)
			}
		}
	}
	return withFallbacks(fields, title, description)
}

// readMeta records one <meta property="og:…" content="…"> (or the
// description meta tag, kept as a fallback).
func readMeta(z *html.Tokenizer, fields map[string]any, description *string) {
	var property, content string
	for {
		key, val, more := z.TagAttr()
		switch string(key) {
		case "property", "name":
			if property == "" || strings.HasPrefix(string(val), "og:") {
				property = strings.ToLower(string(val))
			}
		case "content":
			content = clip(string(val))
		}
		if !more {
			break
		}
	}
	switch {
	case property == "description" && *description == "":
		*description = content
	case strings.HasPrefix(property, "og:") && !strings.HasPrefix(property, "og:image") && content != "":
		if _, seen := fields[property]; !seen {
			fields[property] = content
		}
	}
}

func withFallbacks(fields map[string]any, title, description string) map[string]any {
	if _, ok := fields["og:title"]; !ok && title != "" {
		fields["og:title"] = title
	}
	if _, ok := fields["og:description"]; !ok && description != "" {
		fields["og:description"] = description
	}
	return fields
}

// clip trims a value and bounds its length, on a rune boundary.
func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) <= previewMaxValueLen {
		return s
	}
	cut := previewMaxValueLen
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// previewCache remembers answers for an hour, so a link posted in a busy
// room is fetched once, not once per reader.
type previewCache struct {
	mu      sync.Mutex
	entries map[string]previewEntry
}

type previewEntry struct {
	fields  map[string]any
	expires time.Time
}

func newPreviewCache() *previewCache {
	return &previewCache{entries: make(map[string]previewEntry)}
}

func (c *previewCache) get(key string) (map[string]any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || time.Now().After(e.expires) {
		return nil, false
	}
	return e.fields, true
}

// put stores an answer; when full it first drops expired entries, and if
// that frees nothing, an arbitrary one.
func (c *previewCache) put(key string, fields map[string]any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= previewCacheEntries {
		now := time.Now()
		for k, e := range c.entries {
			if now.After(e.expires) {
				delete(c.entries, k)
			}
		}
		for k := range c.entries {
			if len(c.entries) < previewCacheEntries {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[key] = previewEntry{fields: fields, expires: time.Now().Add(previewCacheTTL)}
}
