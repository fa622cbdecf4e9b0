package federation

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/roomserver"
)

// maxJoinResponseEvents bounds the state and auth chain events a join
// takes from the resident server.
const maxJoinResponseEvents = 200000

// persistJoin checks the state and auth chain a send_join returned and
// persists them, as outliers, and then the join on that state as the
// room's new event. Events that fail their format, room or signature
// checks are left out; the pipeline checks hashes (redacting mismatches)
// and each event's auth rules against its auth events, so an invalid
// chain cannot authorise the join. The join itself must come out
// accepted, or the room was not joined.
func (m *Membership) persistJoin(ctx context.Context, ver mxcore.RoomVersion, roomID string, join *mxcore.PDU, state, chain []json.RawMessage) error {
	if len(state)+len(chain) > maxJoinResponseEvents {
		return fmt.Errorf("join answer of %d events is over the limit of %d", len(state)+len(chain), maxJoinResponseEvents)
	}
	stateEvents := m.verifiedEvents(ctx, ver, roomID, state)
	chainEvents := m.verifiedEvents(ctx, ver, roomID, chain)
	if err := checkJoinState(ver, roomID, stateEvents); err != nil {
		return err
	}
	ordered := orderByAuth(append(chainEvents, stateEvents...))
	inputs := make([]roomserver.InputEvent, 0, len(ordered)+1)
	for _, ev := range ordered {
		inputs = append(inputs, roomserver.InputEvent{PDU: ev, Origin: roomserver.OriginRemote, SignaturesVerified: true, Kind: roomserver.KindOutlier})
	}
	stateIDs := make([]string, 0, len(stateEvents))
	for _, ev := range stateEvents {
		stateIDs = append(stateIDs, ev.EventID())
	}
	inputs = append(inputs, roomserver.InputEvent{PDU: join, Origin: roomserver.OriginLocal, StateBefore: stateIDs})
	results, err := m.Rooms.Persist(ctx, roomID, inputs)
	if err != nil {
		return fmt.Errorf("persisting the joined room: %w", err)
	}
	dropped := 0
	for _, res := range results[:len(results)-1] {
		if res.Err != nil {
			dropped++
		}
	}
	if dropped > 0 {
		slog.WarnContext(ctx, "join: state or auth chain events left out", "room_id", roomID, "dropped", dropped)
	}
	res := results[len(results)-1]
	if res.Err != nil || res.Rejected != "" {
		return fmt.Errorf("the join is not allowed by the room's state as received: %v%s", res.Err, res.Rejected)
	}
	return nil
}

// verifyWorkers bounds the signature checks of a join run at once: they
// spread over the cores, and a server whose keys cannot be fetched costs
// one timeout in parallel with the rest rather than one after another.
const verifyWorkers = 8

// verifiedEvents parses raw events of the room and keeps those signed by
// their sender's server (and, in v1–2, by their event ID's server), in
// their order.
func (m *Membership) verifiedEvents(ctx context.Context, ver mxcore.RoomVersion, roomID string, raws []json.RawMessage) []*mxcore.PDU {
	parsed := make([]*mxcore.PDU, len(raws))
	var wg sync.WaitGroup
	slots := make(chan struct{}, verifyWorkers)
	for i, raw := range raws {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			ev, err := mxcore.NewPDU(raw, ver)
			if err != nil || ev.RoomID() != roomID {
				return
			}
			if err := m.verifyEventOrigin(ctx, ev, ver); err != nil {
				slog.DebugContext(ctx, "join: event signature does not verify", "event_id", ev.EventID(), "err", err)
				return
			}
			parsed[i] = ev
		}()
	}
	wg.Wait()
	out := make([]*mxcore.PDU, 0, len(raws))
	for _, ev := range parsed {
		if ev != nil {
			out = append(out, ev)
		}
	}
	return out
}

// verifyEventOrigin checks the signatures an event needs (server-server
// API, "Validating hashes and signatures on received events").
func (m *Membership) verifyEventOrigin(ctx context.Context, ev *mxcore.PDU, ver mxcore.RoomVersion) error {
	sender, err := mxcore.ParseUserID(ev.Sender())
	if err != nil {
		return err
	}
	if err := m.Keys.VerifyEventFrom(ctx, sender.Server, ev.JSON(), ver); err != nil {
		return err
	}
	if via := roomserver.JoinAuthorisingServer(ev); via != "" && via != sender.Server {
		if err := m.Keys.VerifyEventFrom(ctx, via, ev.JSON(), ver); err != nil {
			return err
		}
	}
	if ver.EventIDs == mxcore.EventIDExplicit {
		id, err := mxcore.ParseEventID(ev.EventID())
		if err == nil && id.Server != "" && id.Server != sender.Server {
			return m.Keys.VerifyEventFrom(ctx, id.Server, ev.JSON(), ver)
		}
	}
	return nil
}

// checkJoinState requires the state to hold the room's create event, of
// the version the resident named.
func checkJoinState(ver mxcore.RoomVersion, roomID string, state []*mxcore.PDU) error {
	for _, ev := range state {
		if ev.Type() != "m.room.create" || ev.StateKey() == nil || *ev.StateKey() != "" {
			continue
		}
		v := "1"
		if rv, ok := createContentString(ev.Content(), "room_version"); ok {
			v = rv
		}
		if v != ver.ID {
			return fmt.Errorf("the room's create event says version %s, the resident %s", v, ver.ID)
		}
		if ver.RoomIDFromCreateEvent && "$"+roomID[1:] != ev.EventID() {
			return errors.New("the create event received is not the one the room ID names")
		}
		return nil
	}
	return errors.New("the state received has no valid create event")
}

func createContentString(obj []byte, key string) (string, bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(obj, &m) != nil {
		return "", false
	}
	var s string
	if raw, ok := m[key]; ok && json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	return "", false
}

// orderByAuth sorts events so that each comes after those of its auth
// events that are among them (the pipeline needs an event's auth events
// first), visiting in depth order; repeats are dropped. An auth cycle,
// which a valid room cannot have, is cut where it is found.
func orderByAuth(evs []*mxcore.PDU) []*mxcore.PDU {
	byID := make(map[string]*mxcore.PDU, len(evs))
	unique := make([]*mxcore.PDU, 0, len(evs))
	for _, ev := range evs {
		if _, dup := byID[ev.EventID()]; !dup {
			byID[ev.EventID()] = ev
			unique = append(unique, ev)
		}
	}
	slices.SortFunc(unique, func(a, b *mxcore.PDU) int {
		if c := cmp.Compare(a.Depth(), b.Depth()); c != 0 {
			return c
		}
		return strings.Compare(a.EventID(), b.EventID())
	})
	visited := make(map[string]bool, len(unique))
	out := make([]*mxcore.PDU, 0, len(unique))
	var visit func(ev *mxcore.PDU)
	visit = func(ev *mxcore.PDU) {
		visited[ev.EventID()] = true
		for _, a := range authRefsOf(ev) {
			if dep, ok := byID[a]; ok && !visited[a] {
				visit(dep)
			}
		}
		out = append(out, ev)
	}
	for _, ev := range unique {
		if !visited[ev.EventID()] {
			visit(ev)
		}
	}
	return out
}

// authRefsOf is an event's auth events, with a v12 room's create event,
// which the room ID names instead.
func authRefsOf(ev *mxcore.PDU) []string {
	refs := ev.AuthEventIDs()
	if ev.Version().RoomIDFromCreateEvent && ev.Type() != "m.room.create" {
		refs = append(slices.Clip(refs), "$"+ev.RoomID()[1:])
	}
	return refs
}
