package loadtest

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// sendPhase starts one listener per room, sends the messages from random
// members of random rooms, then waits (at most DrainTimeout) until every
// successful send was delivered. It returns the send phase's wall time.
func (r *runner) sendPhase(ctx context.Context, users []*user, rooms []*room) (time.Duration, *tracker) {
	t := newTracker()
	listenCtx, stopListeners := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, rm := range rooms {
		l := &listener{r: r, token: users[rm.listener].token, room: rm.id}
		if l.prime(ctx) != nil {
			r.note("listener for " + rm.id + " could not sync; its messages cannot be seen")
			continue
		}
		wg.Go(func() { l.run(listenCtx, t) })
	}
	start := time.Now()
	parallel(ctx, r.cfg.Messages, r.cfg.Concurrency, "send", r.cfg.Progress, func(seq int) {
		rm := rooms[rand.IntN(len(rooms))]
		r.send(ctx, users[pickSender(rm)], rm.id, seq, t)
	})
	elapsed := time.Since(start)
	r.drain(ctx, t)
	stopListeners()
	wg.Wait()
	return elapsed, t
}

// pickSender picks a random member other than the room's listener, so that
// delivery is measured to another user; a room of one has no choice.
func pickSender(rm *room) int {
	if len(rm.members) == 1 {
		return rm.members[0]
	}
	for {
		m := rm.members[rand.IntN(len(rm.members))]
		if m != rm.listener {
			return m
		}
	}
}

func (r *runner) send(ctx context.Context, u *user, roomID string, seq int, t *tracker) {
	txn := r.runID + "-" + itoa(seq)
	path := clientV3 + "/rooms/" + pathEscape(roomID) + "/send/m.room.message/" + pathEscape(txn)
	body := map[string]any{"msgtype": "m.text", "body": Marker(r.runID, seq)}
	start := time.Now()
	t.begin(seq, start)
	if r.c.call(ctx, "PUT", path, u.token, body, nil) != nil {
		return
	}
	acked := time.Now()
	r.stats.send.add(acked.Sub(start))
	t.finished(seq, acked)
}

// drain waits for the listeners to catch up with the last sends.
func (r *runner) drain(ctx context.Context, t *tracker) {
	deadline := time.Now().Add(r.cfg.DrainTimeout)
	for !t.allDelivered() && ctx.Err() == nil {
		if time.Now().After(deadline) {
			r.note("some messages were not delivered within " + r.cfg.DrainTimeout.String() + " of the last send")
			return
		}
		sleep(ctx, 20*time.Millisecond)
	}
}
