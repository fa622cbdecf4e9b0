package clientapi

import (
	"log/slog"

	"github.com/go-chi/chi/v5"
)

// mountSync registers /sync and filters. They need the roomserver; an API
// without one (as in the account tests) serves neither.
func (a *API) mountSync(r chi.Router) {
	if a.Rooms == nil {
		slog.Debug("clientapi: /sync is off: no roomserver")
		return
	}
	// The members cache is the first listener: it drops a changed room
	// before the push rules and the notifier read its members.
	a.roomMembers = newSummaryCache(a.Store, a.Rooms.JoinedUsers)
	a.Rooms.AddListener(a.roomMembers)
	a.startPush()
	var store syncStore = a.Store
	f := &filters{store: store}
	r.Post("/user/{userId}/filter", a.handle(f.post))
	r.Get("/user/{userId}/filter/{filterId}", a.handle(f.get))
	s := newSyncServer(a, store, f)
	a.listenPush()
	a.syncs = s
	r.Get("/sync", a.handle(s.sync))
	// The legacy event stream and snapshots (legacy_*.go). Guests may
	// peek and read one room's snapshot (the guest access module).
	r.Get("/events", a.handle(s.events))
	r.Get("/rooms/{roomId}/initialSync", a.handle(s.roomInitialSync))
	r.With(a.noGuests).Get("/initialSync", a.handle(s.initialSync))
	r.With(a.noGuests).Get("/events/{eventId}", a.handle(a.getEventByID))
}
