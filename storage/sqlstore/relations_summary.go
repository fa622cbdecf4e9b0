package sqlstore

import (
	"context"
	"strconv"

	"github.com/warbler-im/warbler/storage"
)

// RelationSummaries answers the bundled aggregations of a page of events
// with three queries, whatever the page's size: threads from
// event_threads, the latest edit and the references each with a window
// over the parents' children. Each is an index probe per parent, so a
// page of events without children costs three cheap reads.

// relationParentSet is the parents asked about, resolved to room NIDs.
type relationParentSet struct {
	room    map[string]int64 // parent event ID → its room's NID
	all     []string         // IDs of parents in known rooms
	replace []string         // those that want an m.replace
}

func (db *DB) resolveRelationParents(ctx context.Context, parents []storage.RelationParent) (relationParentSet, error) {
	set := relationParentSet{room: make(map[string]int64, len(parents))}
	rs, err := db.roomsFor(ctx)
	if err != nil {
		return set, err
	}
	roomIDs := make([]string, 0, len(parents))
	for _, p := range parents {
		roomIDs = append(roomIDs, p.RoomID)
	}
	nids, err := db.roomNIDs(ctx, rs, roomIDs)
	if err != nil {
		return set, err
	}
	for _, p := range parents {
		nid, ok := nids[p.RoomID]
		if _, dup := set.room[p.EventID]; !ok || dup {
			continue
		}
		set.room[p.EventID] = nid
		set.all = append(set.all, p.EventID)
		if p.Replace {
			set.replace = append(set.replace, p.EventID)
		}
	}
	return set, nil
}

// RelationSummaries implements storage.RelationStore.
func (db *DB) RelationSummaries(ctx context.Context, userID string, parents []storage.RelationParent) (map[string]storage.RelationSummary, error) {
	out := map[string]storage.RelationSummary{}
	if len(parents) == 0 {
		return out, nil
	}
	set, err := db.resolveRelationParents(ctx, parents)
	if err != nil {
		return nil, err
	}
	err = forChunks(set.all, func(chunk []string) error {
		if err := db.threadSummaries(ctx, userID, chunk, set, out); err != nil {
			return err
		}
		return db.referenceSummaries(ctx, chunk, set, out)
	})
	if err != nil {
		return nil, err
	}
	err = forChunks(set.replace, func(chunk []string) error {
		return db.replaceSummaries(ctx, chunk, set, out)
	})
	return out, err
}

// summaryRow reads rows of (parent, room NID, …) and hands each row of a
// parent in its own room to fill.
func (db *DB) summaryRows(ctx context.Context, query string, args []any, set relationParentSet, dest []any, fill func(parent string)) error {
	rows, err := db.reader.QueryContext(ctx, db.q(query), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var parent string
	var room int64
	cols := append([]any{&parent, &room}, dest...)
	for rows.Next() {
		if err := rows.Scan(cols...); err != nil {
			return err
		}
		if set.room[parent] == room {
			fill(parent)
		}
	}
	return rows.Err()
}

func (db *DB) threadSummaries(ctx context.Context, userID string, chunk []string, set relationParentSet, out map[string]storage.RelationSummary) error {
	cond, args := db.inStrings("t.root_id", 2, chunk)
	query := `SELECT t.root_id, t.room_nid, t.latest_id, t.thread_count,
		EXISTS (SELECT 1 FROM event_relations x WHERE x.relates_to_id = t.root_id AND x.rel_type = 'm.thread'
			AND x.sender = $1 AND x.room_nid = t.room_nid)
		FROM event_threads t WHERE ` + cond
	var latest string
	var count int
	var participated bool
	return db.summaryRows(ctx, query, append([]any{userID}, args...), set, []any{&latest, &count, &participated}, func(parent string) {
		s := out[parent]
		s.ThreadLatest, s.ThreadCount, s.ThreadParticipated = latest, count, participated
		out[parent] = s
	})
}

// replaceSummaries finds each parent's latest valid edit: same room,
// sender and type as the parent, and able to replace (m.new_content). The
// spec orders edits by origin_server_ts, then by event ID (byte-wise; the
// PostgreSQL column collates "C").
func (db *DB) replaceSummaries(ctx context.Context, chunk []string, set relationParentSet, out map[string]storage.RelationSummary) error {
	cond, args := db.inStrings("x.relates_to_id", 1, chunk)
	query := `SELECT relates_to_id, room_nid, event_id FROM (
		SELECT x.relates_to_id, x.room_nid, x.event_id, ROW_NUMBER() OVER (
			PARTITION BY x.relates_to_id ORDER BY x.origin_server_ts DESC, x.event_id DESC) AS n
		FROM event_relations x JOIN events p ON p.event_id = x.relates_to_id
		WHERE x.rel_type = 'm.replace' AND x.replaces = TRUE AND x.room_nid = p.room_nid
			AND x.sender = p.sender AND x.type_nid = p.type_nid AND ` + cond + `) latest WHERE n = 1`
	var edit string
	return db.summaryRows(ctx, query, args, set, []any{&edit}, func(parent string) {
		s := out[parent]
		s.Replace = edit
		out[parent] = s
	})
}

// referenceSummaries lists each parent's first m.reference children.
func (db *DB) referenceSummaries(ctx context.Context, chunk []string, set relationParentSet, out map[string]storage.RelationSummary) error {
	cond, args := db.inStrings("x.relates_to_id", 1, chunk)
	query := `SELECT relates_to_id, room_nid, event_id FROM (
		SELECT x.relates_to_id, x.room_nid, x.event_id, x.topo_depth, x.stream_pos, ROW_NUMBER() OVER (
			PARTITION BY x.relates_to_id, x.room_nid ORDER BY x.topo_depth, x.stream_pos) AS n
		FROM event_relations x WHERE x.rel_type = 'm.reference' AND ` + cond + `) refs
		WHERE n <= ` + strconv.Itoa(storage.MaxBundledReferences) + ` ORDER BY relates_to_id, topo_depth, stream_pos`
	var ref string
	return db.summaryRows(ctx, query, args, set, []any{&ref}, func(parent string) {
		s := out[parent]
		s.References = append(s.References, ref)
		out[parent] = s
	})
}
