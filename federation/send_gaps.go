package federation

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/roomserver"
)

// Filling gaps. A received PDU whose prev events are unknown here first
// gets them from the origin with /get_missing_events (walking back towards
// our forward extremities, in a few bounded rounds). If that does not
// reach known events, the missing prev events are fetched with /event and
// stored with the state before them, which /state_ids names (its events
// fetched with /event and stored as outliers): the pipeline then places
// the PDU on them. A PDU whose auth events are unknown gets them, and
// their own missing auth events, stored as outliers.
//
// Everything is bounded per transaction and room, since the origin
// decides what it answers: events fetched by /get_missing_events, rounds,
// gaps filled from state, and events fetched one by one.
const (
	maxMissingEvents  = 100  // per transaction and room, over all rounds
	maxMissingRounds  = 10   // /get_missing_events requests
	maxStateGaps      = 5    // prev events filled from /state_ids
	maxFetchedEvents  = 5000 // events fetched with /event
	eventFetchWorkers = 8
	maxGapPasses      = 3 // fill-and-retry passes over a transaction's PDUs
)

// gapFiller fills the gaps of one transaction in one room, within the
// bounds above.
type gapFiller struct {
	in      *Inbound
	origin  string
	roomID  string
	missing int // events got from /get_missing_events so far
	rounds  int
	gaps    int
	fetched int
	// pending are events waiting to be stored again once the gaps are
	// filled; as prev events they are not gaps to fill.
	pending map[string]bool
}

func newGapFiller(in *Inbound, origin, roomID string) *gapFiller {
	return &gapFiller{in: in, origin: origin, roomID: roomID, pending: map[string]bool{}}
}

// fill fetches what pdu lacks, unless it only lacks pending events.
func (g *gapFiller) fill(ctx context.Context, pdu *mxcore.PDU, missing *roomserver.MissingEventsError) error {
	if !slices.ContainsFunc(missing.Missing, func(id string) bool { return !g.pending[id] }) {
		return nil
	}
	if errors.Is(missing, roomserver.ErrMissingAuth) {
		return g.storeOutliers(ctx, missing.Missing)
	}
	if err := g.fetchMissingPrevs(ctx, pdu); err != nil {
		g.in.log.Info("federation: /get_missing_events failed", "origin", g.origin, "room", g.roomID, "err", err)
	}
	unplaced, err := g.unplaced(ctx, pdu.PrevEventIDs())
	if err != nil {
		return err
	}
	return g.fillFromState(ctx, unplaced)
}

// fetchMissingPrevs asks the origin for the events between our forward
// extremities and pdu, stores them oldest first, and fills from state the
// gaps before the oldest of them.
func (g *gapFiller) fetchMissingPrevs(ctx context.Context, pdu *mxcore.PDU) error {
	earliest, err := g.in.cfg.Rooms.ForwardExtremities(ctx, g.roomID)
	if err != nil {
		return err
	}
	got := map[string]*mxcore.PDU{}
	latest := []string{pdu.EventID()}
	for len(latest) > 0 && g.rounds < maxMissingRounds && g.missing < maxMissingEvents {
		g.rounds++
		raws, err := getMissingEvents(ctx, g.in.cfg.Client, g.origin, g.roomID, earliest, latest, maxMissingEvents-g.missing)
		if err != nil {
			return err
		}
		g.missing += len(raws)
		for _, raw := range raws {
			if ev, err := g.checkFetched(ctx, raw, ""); err == nil {
				got[ev.EventID()] = ev
			}
		}
		if latest, err = g.openEnds(ctx, got); err != nil || len(raws) == 0 {
			break
		}
	}
	if len(got) == 0 {
		return nil
	}
	gaps, err := g.in.persist(ctx, g.roomID, sortedByDepth(got), roomserver.KindLive, nil)
	// The oldest events fetched may still lack their prev events' state
	// or auth events (and the newer ones lack those): fill what none of
	// them provides, and store them again.
	for pass := 0; pass < maxGapPasses && len(gaps) > 0; pass++ {
		retry := make([]*mxcore.PDU, len(gaps))
		for i, gp := range gaps {
			retry[i] = gp.pdu
			g.pending[gp.pdu.EventID()] = true
		}
		for _, gp := range gaps {
			if err := g.fillOne(ctx, gp); err != nil {
				return err
			}
		}
		if gaps, err = g.in.persist(ctx, g.roomID, retry, roomserver.KindLive, nil); err != nil {
			return err
		}
	}
	return err
}

// fillOne fills, for a fetched event, what the other pending events do
// not provide: its auth events, or the state at its prev events.
func (g *gapFiller) fillOne(ctx context.Context, gp gap) error {
	if errors.Is(gp.missing, roomserver.ErrMissingAuth) {
		return g.storeOutliers(ctx, slices.DeleteFunc(slices.Clone(gp.missing.Missing), func(id string) bool { return g.pending[id] }))
	}
	unplaced, err := g.unplaced(ctx, gp.pdu.PrevEventIDs())
	if err != nil {
		return err
	}
	return g.fillFromState(ctx, unplaced)
}

// openEnds lists the prev events of got that are neither among got nor
// stored here: where the next round must continue.
func (g *gapFiller) openEnds(ctx context.Context, got map[string]*mxcore.PDU) ([]string, error) {
	var prevs []string
	for _, ev := range got {
		for _, p := range ev.PrevEventIDs() {
			if got[p] == nil {
				prevs = append(prevs, p)
			}
		}
	}
	unknown, err := g.unplaced(ctx, prevs)
	if err != nil || len(unknown) == 0 {
		return nil, err
	}
	// Continue from the events whose prevs are open.
	open := map[string]bool{}
	for _, u := range unknown {
		open[u] = true
	}
	var ends []string
	for id, ev := range got {
		if slices.ContainsFunc(ev.PrevEventIDs(), func(p string) bool { return open[p] }) {
			ends = append(ends, id)
		}
	}
	slices.Sort(ends)
	return ends, nil
}

// fillFromState stores each missing prev event (at most maxStateGaps per
// transaction) with the state before it, from /state_ids.
func (g *gapFiller) fillFromState(ctx context.Context, prevs []string) error {
	for _, prev := range prevs {
		if g.pending[prev] {
			continue
		}
		if g.gaps >= maxStateGaps {
			return fmt.Errorf("more than %d gaps to fill from state", maxStateGaps)
		}
		g.gaps++
		state, authChain, err := stateIDs(ctx, g.in.cfg.Client, g.origin, g.roomID, prev)
		if err != nil {
			return err
		}
		if err := g.storeOutliers(ctx, append(slices.Clip(authChain), state...)); err != nil {
			return err
		}
		raw, err := getEvent(ctx, g.in.cfg.Client, g.origin, prev)
		if err != nil {
			return err
		}
		ev, err := g.checkFetched(ctx, raw, prev)
		if err != nil {
			return err
		}
		inputs := []roomserver.InputEvent{{PDU: ev, Origin: roomserver.OriginRemote, SignaturesVerified: true, StateBefore: nonNil(state)}}
		res, err := g.in.cfg.Rooms.Persist(ctx, g.roomID, inputs)
		if err != nil {
			return err
		}
		if res[0].Err != nil {
			return fmt.Errorf("storing %s with its state: %w", prev, res[0].Err)
		}
	}
	return nil
}

// storeOutliers fetches the events among ids not stored here, and the
// unknown auth events they need, and stores them as outliers, oldest first.
func (g *gapFiller) storeOutliers(ctx context.Context, ids []string) error {
	got := map[string]*mxcore.PDU{}
	todo, err := g.unknown(ctx, ids)
	for err == nil && len(todo) > 0 {
		if g.fetched+len(todo) > maxFetchedEvents {
			return fmt.Errorf("more than %d events to fetch", maxFetchedEvents)
		}
		g.fetched += len(todo)
		var batch []*mxcore.PDU
		if batch, err = g.fetchEvents(ctx, todo); err != nil {
			return err
		}
		var next []string
		for _, ev := range batch {
			got[ev.EventID()] = ev
			next = append(next, ev.AuthEventIDs()...)
		}
		next = slices.DeleteFunc(next, func(id string) bool { return got[id] != nil })
		todo, err = g.unknown(ctx, next)
	}
	if err != nil {
		return err
	}
	if len(got) > 0 {
		_, err = g.in.persist(ctx, g.roomID, sortedByDepth(got), roomserver.KindOutlier, nil)
	}
	return err
}

// fetchEvents gets events with /event, a few at a time; each must be the
// event asked for, of this room, and verify.
func (g *gapFiller) fetchEvents(ctx context.Context, ids []string) ([]*mxcore.PDU, error) {
	var mu sync.Mutex
	var out []*mxcore.PDU
	group, gctx := errgroup.WithContext(ctx)
	group.SetLimit(eventFetchWorkers)
	for _, id := range ids {
		group.Go(func() error {
			raw, err := getEvent(gctx, g.in.cfg.Client, g.origin, id)
			if err != nil {
				return err
			}
			ev, err := g.checkFetched(gctx, raw, id)
			if err != nil {
				return err
			}
			mu.Lock()
			out = append(out, ev)
			mu.Unlock()
			return nil
		})
	}
	return out, group.Wait()
}

// checkFetched applies checks 1 and 2 to a fetched event of the room and,
// when wantID is set, checks it is that event.
func (g *gapFiller) checkFetched(ctx context.Context, raw []byte, wantID string) (*mxcore.PDU, error) {
	ev, id, err := g.in.checkPDU(ctx, raw)
	switch {
	case err != nil:
		return nil, fmt.Errorf("fetched event %s: %w", id, err)
	case wantID != "" && id != wantID:
		return nil, fmt.Errorf("asked for %s, got %s", wantID, id)
	case ev.RoomID() != g.roomID:
		return nil, fmt.Errorf("fetched event %s is not in %s", id, g.roomID)
	}
	return ev, nil
}

// unknown returns the IDs among ids not stored here, without duplicates.
func (g *gapFiller) unknown(ctx context.Context, ids []string) ([]string, error) {
	return g.missingOf(ctx, ids, false)
}

// unplaced returns the IDs among ids not stored here as timeline events
// (unknown, or outliers, whose state is not known): prev events the
// pipeline cannot place an event on.
func (g *gapFiller) unplaced(ctx context.Context, ids []string) ([]string, error) {
	return g.missingOf(ctx, ids, true)
}

func (g *gapFiller) missingOf(ctx context.Context, ids []string, outliersToo bool) ([]string, error) {
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	if len(ids) == 0 {
		return nil, nil
	}
	known, err := g.in.cfg.Rooms.Events(ctx, ids)
	if err != nil {
		return nil, err
	}
	have := make(map[string]bool, len(known))
	for _, k := range known {
		have[k.Event.EventID()] = !(outliersToo && k.Outlier)
	}
	return slices.DeleteFunc(ids, func(id string) bool { return have[id] }), nil
}

func sortedByDepth(events map[string]*mxcore.PDU) []*mxcore.PDU {
	out := make([]*mxcore.PDU, 0, len(events))
	for _, ev := range events {
		out = append(out, ev)
	}
	slices.SortFunc(out, func(a, b *mxcore.PDU) int {
		if c := cmp.Compare(a.Depth(), b.Depth()); c != 0 {
			return c
		}
		return cmp.Compare(a.EventID(), b.EventID())
	})
	return out
}
