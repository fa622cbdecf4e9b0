package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/warbler-im/warbler/mxcore"
)

// Caching of /.well-known/matrix/server answers, per the spec: respect
// Cache-Control, default 24 h, at most 48 h; errors cached up to an hour
// with exponential backoff for repeated failures.
const (
	wellKnownDefaultTTL = 24 * time.Hour
	wellKnownMaxTTL     = 48 * time.Hour
	// wellKnownMinTTL stops a "no-cache" or tiny max-age from costing an
	// extra HTTPS round trip on every request to the server.
	wellKnownMinTTL      = 5 * time.Minute
	wellKnownFirstErrTTL = 2 * time.Minute
	wellKnownMaxErrTTL   = time.Hour
	wellKnownMaxBytes    = 64 << 10
	wellKnownTimeout     = 15 * time.Second
	wellKnownMaxRedirect = 5
)

// wellKnownAnswer is one cached outcome: a delegated server name, or
// failures > 0 for how many fetches in a row have failed.
type wellKnownAnswer struct {
	server   string
	failures int
}

type wellKnownResolver struct {
	http   *http.Client
	cache  *boundedCache[wellKnownAnswer]
	flight singleflight.Group
	now    func() time.Time
}

func newWellKnownResolver(client *http.Client, now func() time.Time) *wellKnownResolver {
	withPolicy := *client
	withPolicy.CheckRedirect = checkWellKnownRedirect
	return &wellKnownResolver{http: &withPolicy, cache: newBoundedCache[wellKnownAnswer](resolverCacheMax), now: now}
}

// checkWellKnownRedirect follows a few redirects, only to https, never
// back to a URL already visited (a loop).
func checkWellKnownRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > wellKnownMaxRedirect {
		return errors.New("too many redirects")
	}
	if req.URL.Scheme != "https" {
		return fmt.Errorf("redirect to %s refused: not https", req.URL.Scheme)
	}
	for _, earlier := range via {
		if earlier.URL.String() == req.URL.String() {
			return errors.New("redirect loop")
		}
	}
	return nil
}

// lookup returns the delegated server name for hostname, or false if the
// .well-known answer is missing or invalid (discovery then goes on to SRV).
func (w *wellKnownResolver) lookup(ctx context.Context, hostname string) (string, bool) {
	if e, ok := w.cache.get(hostname); ok && w.now().Before(e.expires) {
		return e.value.server, e.value.failures == 0
	}
	v, _, _ := w.flight.Do(hostname, func() (any, error) {
		// Shared by every caller waiting on it, and cached: one caller
		// giving up must not turn into a cached failure for the rest.
		return w.refresh(context.WithoutCancel(ctx), hostname), nil
	})
	answer := v.(wellKnownAnswer)
	return answer.server, answer.failures == 0
}

// refresh fetches and caches the answer for hostname.
func (w *wellKnownResolver) refresh(ctx context.Context, hostname string) wellKnownAnswer {
	server, ttl, err := w.fetch(ctx, hostname)
	now := w.now()
	if err == nil {
		answer := wellKnownAnswer{server: server}
		w.cache.put(hostname, answer, now.Add(ttl), now)
		return answer
	}
	failures := 1
	if prev, ok := w.cache.get(hostname); ok && prev.value.failures > 0 {
		failures = prev.value.failures + 1
	}
	answer := wellKnownAnswer{failures: failures}
	w.cache.put(hostname, answer, now.Add(errorTTL(failures)), now)
	return answer
}

// errorTTL doubles from wellKnownFirstErrTTL with each failure in a row.
func errorTTL(failures int) time.Duration {
	ttl := wellKnownFirstErrTTL
	for i := 1; i < failures && ttl < wellKnownMaxErrTTL; i++ {
		ttl *= 2
	}
	return min(ttl, wellKnownMaxErrTTL)
}

// fetch asks https://hostname/.well-known/matrix/server for m.server.
func (w *wellKnownResolver) fetch(ctx context.Context, hostname string) (string, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, wellKnownTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+hostname+"/.well-known/matrix/server", nil)
	if err != nil {
		return "", 0, err
	}
	resp, err := w.http.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", 0, fmt.Errorf("well-known: status %d", resp.StatusCode)
	}
	server, err := parseWellKnown(resp.Body)
	if err != nil {
		return "", 0, err
	}
	return server, cacheTTL(resp.Header.Get("Cache-Control")), nil
}

// parseWellKnown reads m.server from a body that should be JSON, whatever
// its Content-Type says.
func parseWellKnown(body io.Reader) (string, error) {
	raw, err := io.ReadAll(io.LimitReader(body, wellKnownMaxBytes+1))
	if err != nil {
		return "", err
	}
	if len(raw) > wellKnownMaxBytes {
		return "", errors.New("well-known: response too large")
	}
	var doc struct {
		Server string `json:"m.server"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return "", fmt.Errorf("well-known: %w", err)
	}
	if !mxcore.ValidServerName(doc.Server) {
		return "", fmt.Errorf("well-known: m.server %q is not a server name", doc.Server)
	}
	return doc.Server, nil
}

// cacheTTL reads max-age from Cache-Control, clamped to the limits above.
func cacheTTL(cacheControl string) time.Duration {
	ttl := wellKnownDefaultTTL
	for _, directive := range strings.Split(cacheControl, ",") {
		name, value, _ := strings.Cut(strings.TrimSpace(directive), "=")
		switch strings.ToLower(name) {
		case "no-store", "no-cache":
			return wellKnownMinTTL
		case "max-age":
			if secs, err := strconv.ParseInt(strings.Trim(value, `"`), 10, 64); err == nil && secs >= 0 {
				ttl = time.Duration(min(secs, int64(wellKnownMaxTTL/time.Second))) * time.Second
			}
		}
	}
	return min(max(ttl, wellKnownMinTTL), wellKnownMaxTTL)
}
