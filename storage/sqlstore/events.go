package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/warbler-im/warbler/storage"
)

// Reads of events: by ID for the pipeline, by stream position for /sync,
// by topological position for /messages, and by reference for the DAG.
// Timeline reads leave out what clients must never see (outliers, which
// have no positions, and rejected and soft-failed events) in SQL, so that
// a limit counts only events the caller can use.

// scanEvent reads one row of qSelectEvents.
func scanEvent(row rowScanner) (storage.StoredEvent, error) {
	var e storage.StoredEvent
	var stateKey, rejected, redactedBecause sql.NullString
	var stream, topoDepth, stateBefore sql.NullInt64
	err := row.Scan(&e.EventID, &e.RoomID, &e.Type, &stateKey, &e.Sender, &e.Depth, &e.OriginServerTS,
		&e.JSON, &e.Outlier, &rejected, &e.SoftFailed, &stream, &topoDepth, &stateBefore, &redactedBecause)
	if err != nil {
		return e, err
	}
	if stateKey.Valid {
		e.StateKey = &stateKey.String
	}
	e.Rejected = rejected.String
	e.RedactedBecause = redactedBecause.String
	e.StreamPos = stream.Int64
	if topoDepth.Valid {
		e.Topo = storage.TopoPos{Depth: topoDepth.Int64, Stream: stream.Int64}
	}
	e.StateBefore = stateBefore.Int64
	return e, nil
}

// queryEvents runs a qSelectEvents query and reads every row.
func (db *DB) queryEvents(ctx context.Context, q querier, query string, args ...any) ([]storage.StoredEvent, error) {
	rows, err := q.QueryContext(ctx, db.q(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []storage.StoredEvent
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Events implements storage.RoomStore.
func (db *DB) Events(ctx context.Context, eventIDs []string) ([]storage.StoredEvent, error) {
	rs, err := db.roomsFor(ctx)
	if err != nil {
		return nil, err
	}
	byID, missing := fromCache(eventIDs, db.events.get)
	epoch := db.events.begin()
	if len(missing) == 1 {
		e, err := scanEvent(rs.stmts.readEvent.QueryRowContext(ctx, missing[0]))
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
		if err == nil {
			byID[e.EventID] = e
			db.events.putEvents(epoch, []storage.StoredEvent{e})
		}
	} else if len(missing) > 1 {
		err = forChunks(missing, func(chunk []string) error {
			cond, args := db.inStrings("e.event_id", 1, chunk)
			events, err := db.queryEvents(ctx, db.reader, qSelectEvents+` WHERE `+cond, args...)
			for _, e := range events {
				byID[e.EventID] = e
			}
			db.events.putEvents(epoch, events)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	out := make([]storage.StoredEvent, 0, len(byID))
	for _, id := range eventIDs {
		if e, ok := byID[id]; ok {
			out = append(out, e)
			delete(byID, id) // an ID asked twice comes back once
		}
	}
	return out, nil
}

// KnownEventIDs implements storage.RoomStore.
func (db *DB) KnownEventIDs(ctx context.Context, eventIDs []string) (map[string]storage.EventStatus, error) {
	out := make(map[string]storage.EventStatus, len(eventIDs))
	err := forChunks(eventIDs, func(chunk []string) error {
		cond, args := db.inStrings("event_id", 1, chunk)
		rows, err := db.reader.QueryContext(ctx, db.q(`SELECT event_id, outlier, rejected IS NOT NULL, soft_failed
			FROM events WHERE `+cond), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			var s storage.EventStatus
			if err := rows.Scan(&id, &s.Outlier, &s.Rejected, &s.SoftFailed); err != nil {
				return err
			}
			out[id] = s
		}
		return rows.Err()
	})
	return out, err
}

// EventReferences implements storage.RoomStore.
func (db *DB) EventReferences(ctx context.Context, eventID string) ([]string, error) {
	return db.queryStrings(ctx, `SELECT e.event_id FROM event_edges x
		JOIN events e ON e.event_nid = x.event_nid
		WHERE x.ref_event_id = $1 AND x.kind = 0`, eventID)
}

// MarkRedacted implements storage.RoomStore.
func (db *DB) MarkRedacted(ctx context.Context, eventID, redactionID string) error {
	if redactionID == "" {
		return errors.New("storage: MarkRedacted needs the redaction's event ID")
	}
	// One transaction: the event's text leaves the search index and its
	// relation stops counting together with the redaction itself. It is
	// a write of the event's cache entry (dropped when it ends, whatever
	// its outcome: a failed commit may still have landed).
	err := db.events.write(eventID, func() error {
		return db.writeTx(ctx, func(tx *sql.Tx) error {
			if err := execOne(ctx, tx, db.q(`UPDATE events SET redacted_because = $2 WHERE event_id = $1`), eventID, redactionID); err != nil {
				return err
			}
			if err := db.dropFromSearch(ctx, tx, eventID); err != nil {
				return err
			}
			return db.forgetRelation(ctx, tx, eventID) // a redaction strips m.relates_to
		})
	})
	db.recent.redacted()
	return err
}

// queryStrings runs a query on the reader that returns one string column
// and sorts the result byte-wise. Sorting here rather than in SQL keeps
// both engines in the same order: PostgreSQL's ORDER BY follows the
// database's collation, which may ignore punctuation.
func (db *DB) queryStrings(ctx context.Context, query string, args ...any) ([]string, error) {
	out, err := db.queryColumn(ctx, query, args...)
	slices.Sort(out)
	return out, err
}

// queryColumn runs a query on the reader that returns one string column,
// in the query's order ([] when there are no rows).
func (db *DB) queryColumn(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := db.reader.QueryContext(ctx, db.q(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// visible restricts a timeline query to what clients may see.
const visible = ` AND e.rejected IS NULL AND e.soft_failed = FALSE`

// RoomEventsSince implements storage.RoomStore.
func (db *DB) RoomEventsSince(ctx context.Context, since, upTo int64, roomIDs []string, limit int) ([]storage.RoomTimeline, error) {
	since = max(since, 0) // backfilled events (negative positions) are never new
	if limit <= 0 || since >= upTo || len(roomIDs) == 0 {
		return []storage.RoomTimeline{}, nil
	}
	// Rooms the recent-events cache can answer (recent.go) cost no query.
	fromMemory := map[string][]storage.StoredEvent{}
	var rest []string
	for _, id := range roomIDs {
		if _, done := fromMemory[id]; done {
			continue
		}
		if events, ok := db.recent.timeline(id, since, upTo, limit); ok {
			fromMemory[id] = events
		} else {
			rest = append(rest, id)
		}
	}
	fromDB, err := db.roomEventsSinceFromDB(ctx, since, upTo, rest, limit)
	if err != nil {
		return nil, err
	}
	out := []storage.RoomTimeline{}
	seen := map[string]bool{}
	for _, id := range roomIDs {
		events, ok := fromMemory[id]
		if !ok {
			events, ok = fromDB[id]
		}
		if !ok || len(events) == 0 || seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, newestFirstToTimeline(id, events, limit))
	}
	return out, nil
}

// newestFirstToTimeline makes up to limit+1 events, newest first, into a
// room's timeline, oldest first.
func newestFirstToTimeline(roomID string, events []storage.StoredEvent, limit int) storage.RoomTimeline {
	t := storage.RoomTimeline{RoomID: roomID, Limited: len(events) > limit}
	events = slices.Clone(events[:min(len(events), limit)])
	slices.Reverse(events)
	t.Events = events
	return t
}

// roomEventsSinceFromDB reads, for each of the rooms with an event in
// (since, upTo], up to limit+1 of its newest events, newest first.
//
// It first asks which of the rooms have any event in the range (an index
// probe per room that stops at the first event found), then reads the
// newest events of just those rooms, so a sync over many quiet rooms
// stays cheap however long their histories.
func (db *DB) roomEventsSinceFromDB(ctx context.Context, since, upTo int64, roomIDs []string, limit int) (map[string][]storage.StoredEvent, error) {
	out := map[string][]storage.StoredEvent{}
	if len(roomIDs) == 0 {
		return out, nil
	}
	rs, err := db.roomsFor(ctx)
	if err != nil {
		return nil, err
	}
	nids, err := db.roomNIDs(ctx, rs, roomIDs)
	if err != nil {
		return nil, err
	}
	var known []int64
	for _, id := range roomIDs {
		if nid, ok := nids[id]; ok {
			known = append(known, nid)
		}
	}
	active := map[int64]bool{}
	err = forChunks(known, func(chunk []int64) error {
		cond, args := db.inInt64s("r.room_nid", 3, chunk)
		query := `SELECT r.room_nid FROM rooms r WHERE EXISTS (SELECT 1 FROM events e
			WHERE e.room_nid = r.room_nid AND e.stream_pos > $1 AND e.stream_pos <= $2` + visible + `) AND ` + cond
		rows, err := db.reader.QueryContext(ctx, db.q(query), append([]any{since, upTo}, args...)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var nid int64
			if err := rows.Scan(&nid); err != nil {
				return err
			}
			active[nid] = true
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	for _, id := range roomIDs {
		nid, ok := nids[id]
		if _, done := out[id]; !ok || !active[nid] || done {
			continue
		}
		events, err := db.queryEvents(ctx, db.reader, qSelectEvents+` WHERE e.room_nid = $1
			AND e.stream_pos > $2 AND e.stream_pos <= $3`+visible+`
			ORDER BY e.stream_pos DESC LIMIT $4`, nid, since, upTo, limit+1)
		if err != nil {
			return nil, err
		}
		out[id] = events
	}
	return out, nil
}

// EventsBetween implements storage.RoomStore.
func (db *DB) EventsBetween(ctx context.Context, roomID string, from, to storage.TopoPos, limit int, backwards bool) ([]storage.StoredEvent, error) {
	room, err := db.roomNIDOf(ctx, roomID)
	if err != nil {
		return nil, err
	}
	if limit <= 0 {
		return []storage.StoredEvent{}, nil
	}
	// Row-value comparisons let both engines walk the (room_nid,
	// topo_depth, stream_pos) index from one position towards the other.
	query := qSelectEvents + ` WHERE e.room_nid = $1
		AND (e.topo_depth, e.stream_pos) < ($2, $3) AND (e.topo_depth, e.stream_pos) > ($4, $5)` + visible
	lo, hi, order := to, from, ` ORDER BY e.topo_depth DESC, e.stream_pos DESC`
	if !backwards {
		lo, hi, order = from, to, ` ORDER BY e.topo_depth, e.stream_pos`
	}
	events, err := db.queryEvents(ctx, db.reader, query+order+` LIMIT $6`, room, hi.Depth, hi.Stream, lo.Depth, lo.Stream, limit)
	if events == nil && err == nil {
		events = []storage.StoredEvent{}
	}
	return events, err
}

// roomNID resolves one room ID; ErrNotFound if unknown.
func (db *DB) roomNID(ctx context.Context, rs *roomsState, roomID string) (int64, error) {
	nids, err := db.roomNIDs(ctx, rs, []string{roomID})
	if err != nil {
		return 0, err
	}
	nid, ok := nids[roomID]
	if !ok {
		return 0, fmt.Errorf("storage: room %s: %w", roomID, storage.ErrNotFound)
	}
	return nid, nil
}

// fromCache splits keys into the values get finds, by key, and the keys
// it does not.
func fromCache[V any](keys []string, get func(string) (V, bool)) (map[string]V, []string) {
	found := make(map[string]V, len(keys))
	var missing []string
	for _, k := range keys {
		if v, ok := get(k); ok {
			found[k] = v
		} else {
			missing = append(missing, k)
		}
	}
	return found, missing
}

// roomNIDs resolves room IDs through the cache and then the reader;
// unknown rooms are absent from the result.
func (db *DB) roomNIDs(ctx context.Context, rs *roomsState, roomIDs []string) (map[string]int64, error) {
	out, missing := fromCache(roomIDs, rs.roomNIDs.Get)
	err := forChunks(missing, func(chunk []string) error {
		cond, args := db.inStrings("room_id", 1, chunk)
		rows, err := db.reader.QueryContext(ctx, db.q(`SELECT room_id, room_nid FROM rooms WHERE `+cond), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			var nid int64
			if err := rows.Scan(&id, &nid); err != nil {
				return err
			}
			out[id] = nid
			rs.roomNIDs.Add(id, nid, 1)
		}
		return rows.Err()
	})
	return out, err
}
