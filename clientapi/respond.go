package clientapi

import (
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/internal/ratelimit"
	"github.com/warbler-im/warbler/mxcore"
)

// handle adapts a handler like mxhttp.JSON does, and also writes the error
// shape mxhttp does not know: the user-interactive auth challenge (a 401
// whose body lists flows).
func (a *API) handle(h mxhttp.Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := h(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		mxhttp.WriteJSON(w, http.StatusOK, body)
	}
}

func writeError(w http.ResponseWriter, r *http.Request, err error) {
	var challenge *uiaChallenge
	if errors.As(err, &challenge) {
		mxhttp.WriteJSON(w, http.StatusUnauthorized, challenge)
		return
	}
	mxhttp.WriteError(w, r, err)
}

// limited returns M_LIMIT_EXCEEDED if key has no token left in l.
func limited(l *ratelimit.Limiter, key string) error {
	if ok, wait := l.Allow(key); !ok {
		return limitExceeded(wait)
	}
	return nil
}

// limitExceeded is the 429 error advising a wait of at least d.
func limitExceeded(d time.Duration) error {
	ms := int64((d + time.Millisecond - 1) / time.Millisecond)
	return mxcore.LimitExceeded(max(ms, 1))
}

// limitByAddress throttles requests per client address with l.
func (a *API) limitByAddress(l *ratelimit.Limiter) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := limited(l, addressKey(r)); err != nil {
				writeError(w, r, err)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// clientIP is the address the request came from. Behind a reverse proxy
// that is the proxy; honouring X-Forwarded-For needs a trusted-proxy list,
// which does not exist yet.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// addressKey is the rate-limit key of the client address. An IPv6 client
// usually controls a whole /64, so the /64 is the key: otherwise one host
// could rotate through fresh buckets forever.
func addressKey(r *http.Request) string {
	ip := net.ParseIP(clientIP(r))
	if ip == nil || ip.To4() != nil {
		return clientIP(r)
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}
