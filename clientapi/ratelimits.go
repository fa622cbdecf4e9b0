package clientapi

import (
	"net/http"

	"github.com/warbler-im/warbler/internal/ratelimit"
)

// limitByUser throttles an authenticated endpoint per user with l (nil
// limits nothing). Application service users will be exempt once
// application services exist: their traffic is a bridge's, not a person's.
func (a *API) limitByUser(l *ratelimit.Limiter) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if l == nil {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := limited(l, roomCaller(r).UserID); err != nil {
				writeError(w, r, err)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
