package roomserver

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/warbler-im/warbler/mxcore"
)

// Walks of the room DAG for federation: auth chains (/event_auth,
// /send_join, /state) and missing events (/get_missing_events).

// ErrAuthChainTooLarge: the auth chain has more events than the limit
// asked for.
var ErrAuthChainTooLarge = errors.New("roomserver: auth chain larger than the limit")

// Limits of /get_missing_events: the spec's default, and the most this
// server returns whatever is asked.
const (
	DefaultMissingEventsLimit = 10
	MaxMissingEventsLimit     = 100
)

// AuthChain returns the auth chain of the events: every stored event
// reachable from them through auth_events (so the events themselves only
// when one is another's auth event), sorted by depth then ID. Events this server does not have are skipped. More
// than limit events is ErrAuthChainTooLarge.
func (rs *RoomServer) AuthChain(ctx context.Context, eventIDs []string, limit int) ([]*mxcore.PDU, error) {
	start, err := rs.loadEvents(ctx, eventIDs)
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(eventIDs))
	var frontier []string
	for _, m := range start {
		frontier = append(frontier, m.pdu.AuthEventIDs()...)
	}
	var chain []*mxcore.PDU
	for len(frontier) > 0 {
		metas, err := rs.loadEvents(ctx, unseen(frontier, seen))
		if err != nil {
			return nil, err
		}
		frontier = frontier[:0]
		for _, m := range metas {
			chain = append(chain, m.pdu)
			frontier = append(frontier, m.pdu.AuthEventIDs()...)
		}
		if len(chain) > limit {
			return nil, fmt.Errorf("%w (%d)", ErrAuthChainTooLarge, limit)
		}
	}
	sortByDepth(chain)
	return chain, nil
}

// unseen returns the IDs not yet in seen, and marks them.
func unseen(ids []string, seen map[string]bool) []string {
	var out []string
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// MissingEvents walks prev_events breadth-first from the latest events,
// skipping the earliest ones and events below minDepth, and returns up to
// limit events of the room (DefaultMissingEventsLimit when limit ≤ 0, at
// most MaxMissingEventsLimit), oldest first. The latest events themselves
// are not returned. The caller applies history visibility.
func (rs *RoomServer) MissingEvents(ctx context.Context, roomID string, earliest, latest []string, limit int, minDepth int64) ([]*mxcore.PDU, error) {
	if limit <= 0 {
		limit = DefaultMissingEventsLimit
	}
	limit = min(limit, MaxMissingEventsLimit)
	seen := make(map[string]bool, len(earliest)+len(latest))
	unseen(earliest, seen)
	starts, err := rs.loadEvents(ctx, unseen(latest, seen))
	if err != nil {
		return nil, err
	}
	var frontier []string
	for _, m := range starts {
		if m.pdu.RoomID() == roomID {
			frontier = append(frontier, m.pdu.PrevEventIDs()...)
		}
	}
	var found []*mxcore.PDU
	for len(frontier) > 0 && len(found) < limit {
		frontier, err = rs.missingStep(ctx, roomID, unseen(frontier, seen), minDepth, limit, &found)
		if err != nil {
			return nil, err
		}
	}
	sortByDepth(found)
	return found, nil
}

// missingStep takes one breadth-first level in the order the IDs came
// and returns the next level.
func (rs *RoomServer) missingStep(ctx context.Context, roomID string, ids []string, minDepth int64, limit int, found *[]*mxcore.PDU) ([]string, error) {
	metas, err := rs.loadEvents(ctx, ids)
	if err != nil {
		return nil, err
	}
	var next []string
	for _, id := range ids {
		m := metas[id]
		if m == nil || m.pdu.RoomID() != roomID || m.pdu.Depth() < minDepth {
			continue
		}
		if len(*found) == limit {
			break
		}
		*found = append(*found, m.pdu)
		next = append(next, m.pdu.PrevEventIDs()...)
	}
	return next, nil
}

func sortByDepth(events []*mxcore.PDU) {
	slices.SortFunc(events, func(a, b *mxcore.PDU) int {
		if c := cmp.Compare(a.Depth(), b.Depth()); c != 0 {
			return c
		}
		return cmp.Compare(a.EventID(), b.EventID())
	})
}
