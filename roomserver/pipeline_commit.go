package roomserver

import (
	"context"
	"fmt"

	"github.com/warbler-im/warbler/storage"
)

// commit stores the batch in one transaction, then, and only then,
// updates the caches and tells the listeners. On failure nothing cached
// changes and the room's cached state is dropped, in case storage
// committed after all (a lost connection), so it is read back.
func (r *batchRun) commit(results []InputResult) error {
	var update storage.RoomUpdate
	if r.currentChanged {
		ref := r.current.Ref()
		update.SetCurrentState = &ref
	}
	if r.extremitiesChanged {
		update.ForwardExtremities = (&roomState{extremities: r.extremities}).extremityIDs()
	}
	positions, err := r.rs.store.PersistEvents(r.ctx, r.room.id, r.batch, update)
	if err == nil && len(positions) != len(r.batch) {
		err = fmt.Errorf("storage returned %d positions for %d events", len(positions), len(r.batch))
	}
	if err != nil {
		r.rs.rooms.Remove(r.room.id)
		return fmt.Errorf("roomserver: persist events of %s: %w", r.room.id, err)
	}
	stored := r.record(positions, results)
	r.applyRedactions(stored)
	r.rs.rooms.Put(r.room.id, &roomState{id: r.room.id, version: r.ver, current: r.rebasedCurrent(), extremities: r.extremities})
	r.rs.notify(r.room.id, stored)
	return nil
}

// record copies the positions into the results, caches the stored events
// and returns them for the listeners.
func (r *batchRun) record(positions []storage.PersistedPosition, results []InputResult) []PersistedEvent {
	stored := make([]PersistedEvent, 0, len(positions))
	for i, pos := range positions {
		res := &results[r.results[i]]
		res.Stream, res.Topo = pos.Stream, pos.Topo
		if pos.Existed {
			// Stored meanwhile by someone else: what storage holds wins.
			res.Existed = true
			r.rs.events.Remove(pos.EventID)
			continue
		}
		r.rs.events.Put(pos.EventID, r.pending[pos.EventID])
		res.Outbound = r.batch[i].Outbound
		stored = append(stored, res.PersistedEvent)
	}
	return stored
}

// rebasedCurrent names a changed current state by the snapshot storage
// made of it (one read by primary key), so that later events, whose state
// before is usually the current state, name it to storage without
// changes: storage then has no snapshot to compute for them. Failing to
// read it only costs longer state references later; the commit stands.
func (r *batchRun) rebasedCurrent() *stateSet {
	if !r.currentChanged || r.current.pendingChanges() == 0 {
		return r.current
	}
	info, err := r.rs.store.Room(context.WithoutCancel(r.ctx), r.room.id)
	if err != nil {
		r.rs.log.Warn("roomserver: reading the current snapshot after a commit", "room", r.room.id, "err", err)
		return r.current
	}
	rebased := r.current.rebased(info.CurrentSnapshot)
	r.rs.snapshots.Put(info.CurrentSnapshot, rebased)
	return rebased
}
