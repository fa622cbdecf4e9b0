package loadtest

import (
	"context"
	"time"
)

// room is a created room, its members (indexes into the users slice) and
// the member whose /sync listens for the benchmark's messages.
type room struct {
	id       string
	members  []int
	listener int
}

// createRooms has the rooms created by different users in turn, so no one
// account's state dominates; every room is public so users can just join.
func (r *runner) createRooms(ctx context.Context, users []*user) []*room {
	slots := make([]*room, r.cfg.Rooms)
	parallel(ctx, r.cfg.Rooms, r.cfg.Concurrency, "create rooms", r.cfg.Progress, func(i int) {
		creator := i % len(users)
		body := map[string]any{"preset": "public_chat", "name": "bench " + r.runID + " " + itoa(i)}
		var out struct {
			RoomID string `json:"room_id"`
		}
		start := time.Now()
		if r.c.call(ctx, "POST", clientV3+"/createRoom", users[creator].token, body, &out) != nil {
			return
		}
		r.stats.createRoom.add(time.Since(start))
		slots[i] = &room{id: out.RoomID, members: []int{creator}, listener: creator}
	})
	var rooms []*room
	for _, rm := range slots {
		if rm != nil {
			rooms = append(rooms, rm)
		}
	}
	return rooms
}

// joinAll has every user join every room it did not create.
func (r *runner) joinAll(ctx context.Context, users []*user, rooms []*room) {
	type pair struct{ room, user int }
	var pairs []pair
	for ri, rm := range rooms {
		for ui := range users {
			if ui != rm.listener {
				pairs = append(pairs, pair{ri, ui})
			}
		}
	}
	joined := make([]bool, len(pairs))
	parallel(ctx, len(pairs), r.cfg.Concurrency, "join", r.cfg.Progress, func(i int) {
		p := pairs[i]
		start := time.Now()
		path := clientV3 + "/join/" + pathEscape(rooms[p.room].id)
		if r.c.call(ctx, "POST", path, users[p.user].token, map[string]any{}, nil) == nil {
			r.stats.join.add(time.Since(start))
			joined[i] = true
		}
	})
	// Membership is recorded afterwards, on one goroutine, so the workers
	// need no lock on the rooms.
	for i, p := range pairs {
		if joined[i] {
			rooms[p.room].members = append(rooms[p.room].members, p.user)
		}
	}
}
