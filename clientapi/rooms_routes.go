package clientapi

import "github.com/go-chi/chi/v5"

// mountRooms registers the room endpoints (creation, membership, state,
// sending, reading). The paths are written out rather than grouped in a
// /rooms/{roomId} sub-router, so that other files (sync's /messages) can
// add their own /rooms/{roomId}/... routes without a chi mount conflict.
func (a *API) mountRooms(r chi.Router) {
	if a.Rooms == nil {
		return // an API without rooms (the account tests) serves none
	}
	// Suspended accounts may read, leave and redact their own events, not
	// act in rooms otherwise (moderation.go).
	ns := a.notSuspended
	sends, joins := a.limitByUser(a.Limits.Send), a.limitByUser(a.Limits.Join)
	r.With(ns).Post("/createRoom", a.handle(a.createRoom))
	r.Get("/joined_rooms", a.handle(a.joinedRooms))
	r.With(ns, joins).Post("/join/{roomIdOrAlias}", a.handle(a.joinRoom))
	r.With(ns, joins).Post("/knock/{roomIdOrAlias}", a.handle(a.knock))
	r.With(ns, sends).Put("/rooms/{roomId}/send/{eventType}/{txnId}", a.handle(a.sendMessage))
	r.With(ns, sends).Put("/rooms/{roomId}/state/{eventType}", a.handle(a.sendState))
	r.With(ns, sends).Put("/rooms/{roomId}/state/{eventType}/", a.handle(a.sendState))
	r.With(ns, sends).Put("/rooms/{roomId}/state/{eventType}/{stateKey}", a.handle(a.sendState))
	r.With(sends).Put("/rooms/{roomId}/redact/{eventId}/{txnId}", a.handle(a.redact))
	r.Get("/rooms/{roomId}/state", a.handle(a.getState))
	r.Get("/rooms/{roomId}/state/{eventType}", a.handle(a.getStateEvent))
	r.Get("/rooms/{roomId}/state/{eventType}/", a.handle(a.getStateEvent))
	r.Get("/rooms/{roomId}/state/{eventType}/{stateKey}", a.handle(a.getStateEvent))
	r.Get("/rooms/{roomId}/event/{eventId}", a.handle(a.getEvent))
	r.Get("/rooms/{roomId}/members", a.handle(a.getMembers))
	r.Get("/rooms/{roomId}/joined_members", a.handle(a.getJoinedMembers))
	r.With(ns, joins).Post("/rooms/{roomId}/join", a.handle(a.joinRoomByID))
	r.With(ns).Post("/rooms/{roomId}/invite", a.handle(a.invite))
	r.Post("/rooms/{roomId}/leave", a.handle(a.leave))
	r.With(ns).Post("/rooms/{roomId}/kick", a.handle(a.kick))
	r.With(ns).Post("/rooms/{roomId}/ban", a.handle(a.ban))
	r.With(ns).Post("/rooms/{roomId}/unban", a.handle(a.unban))
	r.Post("/rooms/{roomId}/forget", a.handle(a.forgetRoom))
	r.With(ns).Post("/rooms/{roomId}/upgrade", a.handle(a.upgradeRoom))

	// Timeline reads (messages*.go, context*.go).
	r.Get("/rooms/{roomId}/messages", a.handle(a.getMessages))
	r.Get("/rooms/{roomId}/context/{eventId}", a.handle(a.getEventContext))

	// Room aliases (aliases*.go).
	r.With(ns).Put("/directory/room/{roomAlias}", a.handle(a.putAlias))
	r.Delete("/directory/room/{roomAlias}", a.handle(a.deleteAlias))
	r.Get("/rooms/{roomId}/aliases", a.handle(a.getRoomAliases))
	a.mountDirectory(r)
	r.Post("/user_directory/search", a.handle(a.searchUserDirectory))
}
