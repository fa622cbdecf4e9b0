package clientapi

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/storage"
)

// Profile propagation: a changed displayname or avatar_url is sent as a
// new m.room.member event into each room the user is joined to, so other
// members see it (spec: "Events on Change of Profile Information").
//
// It runs in the background after the PUT answers: each event is a
// durable write, and a user in hundreds of rooms would otherwise wait
// seconds for a profile change. Runs are coalesced per user (at most one
// goroutine per user; changes made while one runs trigger one more run),
// and every run reads the profile afresh, so the last event in each room
// carries the latest profile whatever the order of requests.
const (
	// maxPropagatedRooms bounds the member events one change sends.
	maxPropagatedRooms = 500
	// propagateTimeout bounds one run.
	propagateTimeout = 5 * time.Minute
)

// profilePropagator schedules propagation runs; its zero value is ready.
type profilePropagator struct {
	mu sync.Mutex
	// rerun holds the users with a run under way, true when a change came
	// in since it started.
	rerun map[string]bool
	runs  sync.WaitGroup
}

// schedule runs run(user) in the background, coalescing with a run
// already under way for the same user.
func (p *profilePropagator) schedule(user string, run func(user string)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rerun == nil {
		p.rerun = map[string]bool{}
	}
	if _, busy := p.rerun[user]; busy {
		p.rerun[user] = true
		return
	}
	p.rerun[user] = false
	p.runs.Add(1)
	go func() {
		defer p.runs.Done()
		for {
			run(user)
			if !p.finished(user) {
				continue
			}
			return
		}
	}()
}

// finished reports whether the user's runs are over, else claims the
// pending rerun.
func (p *profilePropagator) finished(user string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rerun[user] {
		p.rerun[user] = false
		return false
	}
	delete(p.rerun, user)
	return true
}

// wait blocks until every scheduled run has finished (tests, shutdown).
func (p *profilePropagator) wait() { p.runs.Wait() }

// propagateProfile schedules the member events for a profile change.
func (a *API) propagateProfile(userID string) {
	if a.Rooms == nil {
		return
	}
	a.profileRuns.schedule(userID, a.propagateProfileNow)
}

// propagationCounts tallies one run, for the log.
type propagationCounts struct {
	sent, unchanged, refused, failed int
}

func (a *API) propagateProfileNow(userID string) {
	ctx, cancel := context.WithTimeout(context.Background(), propagateTimeout)
	defer cancel()
	profile, err := a.Store.GetProfile(ctx, userID)
	if err != nil {
		slog.Warn("clientapi: profile propagation: reading the profile", "user_id", userID, "err", err)
		return
	}
	rooms, err := a.Store.RoomsForUser(ctx, userID, storage.MembershipJoin)
	if err != nil {
		slog.Warn("clientapi: profile propagation: listing rooms", "user_id", userID, "err", err)
		return
	}
	skipped := 0
	if len(rooms) > maxPropagatedRooms {
		skipped = len(rooms) - maxPropagatedRooms
		rooms = rooms[:maxPropagatedRooms]
	}
	var counts propagationCounts
	for _, roomID := range rooms {
		a.propagateToRoom(ctx, roomID, profile, &counts)
	}
	slog.Info("clientapi: profile propagated", "user_id", userID, "sent", counts.sent,
		"unchanged", counts.unchanged, "refused", counts.refused, "failed", counts.failed, "over_limit", skipped)
}

// propagateToRoom sends the user's new member event into one room. A room
// where the user is no longer joined, or whose member event already holds
// the profile, gets nothing; one whose power levels refuse it is skipped.
// The roomserver checks the membership under the room's lock, so a leave
// racing with this is not undone.
func (a *API) propagateToRoom(ctx context.Context, roomID string, profile storage.Profile, counts *propagationCounts) {
	_, sent, err := a.Rooms.UpdateJoinedMember(ctx, roomID, profile.UserID, func(content map[string]any) bool {
		return applyProfile(content, profile)
	})
	var authErr *roomserver.AuthError
	switch {
	case err == nil && sent:
		counts.sent++
	case err == nil:
		counts.unchanged++
	case errors.As(err, &authErr):
		counts.refused++
	default:
		counts.failed++
		slog.Warn("clientapi: profile propagation: sending the member event", "room_id", roomID, "err", err)
	}
}

// applyProfile writes the profile into member event content (an empty
// field is removed) and reports whether that changed anything.
func applyProfile(content map[string]any, profile storage.Profile) bool {
	changed := false
	for key, value := range profileFields(profile) {
		old, has := content[key]
		switch {
		case value == "" && has:
			delete(content, key)
			changed = true
		case value != "" && old != value:
			content[key] = value
			changed = true
		}
	}
	return changed
}
