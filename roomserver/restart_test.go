package roomserver

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage/postgres/pgtest"
)

// chain builds a linear room history in memory, as one server would, and
// remembers the state before each event: the expected answers.
type chain struct {
	t      testing.TB
	rs     *RoomServer
	ver    mxcore.RoomVersion
	roomID string
	state  *stateSet
	byID   map[string]*mxcore.PDU
	last   *mxcore.PDU
	before map[string]*stateSet
	events []*mxcore.PDU
}

func newChain(t testing.TB, rs *RoomServer, version string) *chain {
	ver, _ := mxcore.GetRoomVersion(version)
	c := &chain{t: t, rs: rs, ver: ver, state: emptyState(), byID: map[string]*mxcore.PDU{}, before: map[string]*stateSet{}}
	if !ver.RoomIDFromCreateEvent {
		c.roomID = "!chain:" + rs.cfg.ServerName
	}
	return c
}

func (c *chain) add(req EventRequest) *mxcore.PDU {
	req.RoomID = c.roomID
	in := buildInput{ver: c.ver, roomID: c.roomID, req: req, ts: c.rs.now()}
	if c.last != nil {
		in.prevs = []*mxcore.PDU{c.last}
	}
	for _, id := range authEventIDsIn(c.state, c.ver, req) {
		in.auth = append(in.auth, c.byID[id])
	}
	pdu, err := c.rs.build(in)
	if err != nil {
		c.t.Fatal(err)
	}
	if pdu.Type() == mRoomCreate {
		c.roomID = pdu.RoomID()
	}
	c.before[pdu.EventID()] = c.state
	if sk := pdu.StateKey(); sk != nil {
		c.state = c.state.With(pdu.Type(), *sk, pdu.EventID())
	}
	c.byID[pdu.EventID()], c.last = pdu, pdu
	c.events = append(c.events, pdu)
	return pdu
}

// bigRoom builds a public room with members joined users and about
// perMember events per join: messages, and now and then a topic or a
// member's profile change.
func bigRoom(c *chain, members, perMember int) {
	c.add(stateReq("", alice, mRoomCreate, "", map[string]string{"room_version": c.ver.ID}))
	c.add(member("", alice, alice, "join"))
	c.add(stateReq("", alice, mRoomPowerLevels, "", map[string]any{"users_default": 0, "events_default": 0, "state_default": 50}))
	c.add(stateReq("", alice, mRoomJoinRules, "", map[string]string{"join_rule": "public"}))
	c.add(stateReq("", alice, mRoomHistoryVisibility, "", map[string]string{"history_visibility": "shared"}))
	for i := range members {
		user := fmt.Sprintf("@u%04d:a.test", i)
		c.add(member("", user, user, "join"))
		for j := range perMember - 1 {
			switch {
			case j == 0 && i%50 == 0:
				c.add(stateReq("", alice, "m.room.topic", "", map[string]string{"topic": fmt.Sprint("topic ", i)}))
			case j == 1 && i%7 == 0:
				c.add(stateReq("", user, mRoomMember, user, map[string]string{"membership": "join", "displayname": fmt.Sprint("User ", i)}))
			default:
				c.add(message("", fmt.Sprintf("@u%04d:a.test", (i*31+j)%(i+1)), fmt.Sprint(i, "/", j)))
			}
		}
	}
}

// persistChain persists the chain's events in batches, as local events.
func persistChain(t testing.TB, rs *RoomServer, c *chain, batch int) {
	for start := 0; start < len(c.events); start += batch {
		end := min(start+batch, len(c.events))
		inputs := make([]InputEvent, 0, end-start)
		for _, ev := range c.events[start:end] {
			inputs = append(inputs, InputEvent{PDU: ev, Origin: OriginLocal})
		}
		results, err := rs.Persist(ctxT(t), c.roomID, inputs)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range results {
			if r.Err != nil || r.Rejected != "" || r.SoftFailed {
				t.Fatalf("event %s: %v %q soft-failed %v", r.EventID, r.Err, r.Rejected, r.SoftFailed)
			}
		}
	}
}

// TestRestartLargeRoom persists a room of 10,000 events and 1,000 members
// on SQLite and PostgreSQL, reopens the database and compares the current
// state and the state before events with what was written. (The scenario
// Restart covers the in-memory store.) Under the race detector the room
// is a tenth of the size.
func TestRestartLargeRoom(t *testing.T) {
	if testing.Short() {
		t.Skip("large room: skipped in -short mode")
	}
	t.Run("SQLite", func(t *testing.T) {
		url := "sqlite:" + filepath.Join(t.TempDir(), "warbler.db")
		testRestartLarge(t, func() Store { return openDB(t, url) })
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		url := pgtest.FreshDatabase(t)
		testRestartLarge(t, func() Store { return openDB(t, url) })
	})
}

func testRestartLarge(t *testing.T, open func() Store) {
	members, perMember, batch := 1000, 10, restartBatch
	if raceEnabled {
		members = 100
	}
	first := open()
	rs := newServer(t, srvA, first)
	c := newChain(t, rs, "12")
	bigRoom(c, members, perMember)
	start := time.Now()
	persistChain(t, rs, c, batch)
	t.Logf("persisted %d events in %v", len(c.events), time.Since(start))
	if closer, ok := first.(interface{ Close() error }); ok {
		if err := closer.Close(); err != nil {
			t.Fatal(err)
		}
	}
	start = time.Now()
	again := newServer(t, srvA, open())
	if cur := mustCurrent(t, again, c.roomID); !maps.Equal(cur, c.state.Map()) {
		t.Fatalf("current state after reopening: %d entries, want %d", len(cur), c.state.Len())
	}
	joined, err := again.JoinedUsers(ctxT(t), c.roomID)
	if err != nil || len(joined) != members+1 {
		t.Fatalf("%d joined users (%v), want %d", len(joined), err, members+1)
	}
	for i, ev := range c.events {
		if i%53 != 0 && i < len(c.events)-20 {
			continue
		}
		got, err := again.StateAt(ctxT(t), ev.EventID(), StateBeforeEvent)
		if err != nil || !maps.Equal(stateMapOf(got), c.before[ev.EventID()].Map()) {
			t.Fatalf("state before event %d (%s) after reopening differs (%v)", i, ev.EventID(), err)
		}
	}
	ex, _ := again.ForwardExtremities(ctxT(t), c.roomID)
	if !slices.Equal(ex, []string{c.last.EventID()}) {
		t.Fatalf("extremities %v", ex)
	}
	send(t, again, message(c.roomID, fmt.Sprintf("@u%04d:a.test", members-1), "after the restart"))
	t.Logf("reopened and compared in %v", time.Since(start))
}

// restartBatch is the number of events per Persist call. Storage's cost
// per event grows with the state changes earlier in the same batch (see
// the note on StateRef in the report), so moderate batches are fastest.
var restartBatch = 250
