package clientapi

import (
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

// Account moderation (admin.yaml; client-server spec "Account locking" and
// "Account suspension"). Server admins lock or suspend local accounts;
// admins themselves cannot be the target, so one admin cannot shut out
// another (or themself).
//
// A locked account's every request answers 401 M_USER_LOCKED with
// soft_logout, except /logout and /logout/all; its sessions are kept so
// that an unlock restores them. A suspended account keeps reading,
// syncing, leaving rooms, redacting its own events, managing its devices,
// keys and account; it gets 403 M_USER_SUSPENDED when it creates, joins,
// knocks on or upgrades a room, invites, kicks, bans or unbans, sends
// messages or state, redacts another user's event, changes its profile
// or creates an alias.

func (a *API) mountModeration(r chi.Router) {
	const v1 = "/_matrix/client/v1"
	r.Get(v1+"/admin/lock/{userId}", a.handle(a.getLock))
	r.Put(v1+"/admin/lock/{userId}", a.handle(a.putLock))
	r.Get(v1+"/admin/suspend/{userId}", a.handle(a.getSuspend))
	r.Put(v1+"/admin/suspend/{userId}", a.handle(a.putSuspend))
}

func userLocked() error {
	e := mxcore.NewError(http.StatusUnauthorized, mxcore.ErrUserLocked, "This account has been locked")
	soft := true
	e.SoftLogout = &soft
	return e
}

func userSuspended() error {
	return mxcore.NewError(http.StatusForbidden, mxcore.ErrUserSuspended, "You cannot perform this action while suspended")
}

// notSuspended refuses the route to suspended accounts.
func (a *API) notSuspended(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sess, ok := SessionFrom(r.Context()); ok && sess.Suspended {
			writeError(w, r, userSuspended())
			return
		}
		next.ServeHTTP(w, r)
	})
}

// moderationTarget checks, in the order the spec asks (authorisation
// before any lookup of the target, against user enumeration), that the
// caller is a server admin, the target a local user who is not another
// admin (nor the caller, when changing), and that the target exists and
// is not deactivated. It returns the target's account.
func (a *API) moderationTarget(r *http.Request, changing bool) (storage.User, error) {
	ctx := r.Context()
	caller := roomCaller(r).UserID
	none := storage.User{}
	admin, err := a.Store.GetUser(ctx, caller)
	if err != nil {
		return none, err
	}
	if !admin.IsAdmin {
		return none, mxcore.Forbidden("Requesting user is not a server administrator")
	}
	target := roomPathParam(r, "userId")
	id, err := mxcore.ParseUserID(target)
	if err != nil {
		return none, mxcore.InvalidParam("Invalid user ID")
	}
	if id.Server != a.ServerName {
		return none, mxcore.InvalidParam("User does not belong to the local server")
	}
	if changing && target == caller {
		return none, mxcore.Forbidden("You cannot lock or suspend your own account")
	}
	user, err := a.Store.GetUser(ctx, target)
	if errors.Is(err, storage.ErrNotFound) || err == nil && user.Deactivated {
		return none, mxcore.NotFound("User not found")
	}
	if err != nil {
		return none, err
	}
	if user.IsAdmin && target != caller {
		return none, mxcore.Forbidden("The target user is a server administrator")
	}
	return user, nil
}

// moderationFlag reads one flag of the target for the GET endpoints.
func (a *API) moderationFlag(r *http.Request, name string, flag func(storage.User) bool) (any, error) {
	user, err := a.moderationTarget(r, false)
	if err != nil {
		return nil, err
	}
	return map[string]bool{name: flag(user)}, nil
}

// setModerationFlag decodes {name: bool} and stores it with set.
func (a *API) setModerationFlag(r *http.Request, name string, set func(r *http.Request, userID string, on bool) error) (any, error) {
	target, err := a.moderationTarget(r, true)
	if err != nil {
		return nil, err
	}
	var body map[string]any
	if err := mxhttp.DecodeJSON(r, &body); err != nil {
		return nil, err
	}
	raw, present := body[name]
	if !present {
		return nil, mxcore.MissingParam("Missing " + name)
	}
	on, ok := raw.(bool)
	if !ok {
		return nil, mxcore.BadJSON(name + " must be a boolean")
	}
	if err := set(r, target.UserID, on); err != nil {
		return nil, err
	}
	return map[string]bool{name: on}, nil
}

func (a *API) getLock(r *http.Request) (any, error) {
	return a.moderationFlag(r, "locked", func(u storage.User) bool { return u.Locked })
}

func (a *API) getSuspend(r *http.Request) (any, error) {
	return a.moderationFlag(r, "suspended", func(u storage.User) bool { return u.Suspended })
}

func (a *API) putLock(r *http.Request) (any, error) {
	return a.setModerationFlag(r, "locked", func(r *http.Request, userID string, on bool) error {
		return a.Store.SetUserLocked(r.Context(), userID, on)
	})
}

func (a *API) putSuspend(r *http.Request) (any, error) {
	return a.setModerationFlag(r, "suspended", func(r *http.Request, userID string, on bool) error {
		return a.Store.SetUserSuspended(r.Context(), userID, on)
	})
}

// moderationCapability is m.account_moderation for admins; the spec has
// it left out for everyone else.
func (a *API) moderationCapability(r *http.Request) (map[string]bool, error) {
	user, err := a.Store.GetUser(r.Context(), roomCaller(r).UserID)
	if err != nil || !user.IsAdmin {
		return nil, err
	}
	return map[string]bool{"suspend": true, "lock": true}, nil
}
