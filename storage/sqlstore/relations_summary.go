package sqlstore

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"

	"github.com/warbler-im/warbler/storage"
)

// RelationSummaries answers the bundled aggregations of a page of events
// with one statement, whatever the page's size: threads from
// event_threads, the latest edit and the references each with a window
// over the parents' children. Each part is an index probe per parent, so
// a page of events without children costs one cheap read.

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
	// Events just written that no relation points at need no query: the
	// common case of a /sync woken by a new message (recent.go).
	parents = slices.DeleteFunc(slices.Clone(parents), func(p storage.RelationParent) bool {
		return db.recent.relationFree(p.RoomID, p.EventID)
	})
	if len(parents) == 0 {
		return out, nil
	}
	set, err := db.resolveRelationParents(ctx, parents)
	if err != nil || len(set.all) == 0 {
		return out, err
	}
	all, replace := db.stringList(set.all), db.stringList(set.replace)
	rows, err := db.reader.QueryContext(ctx, db.q(qRelationSummaries(db.inList)), all, userID, replace)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var kind int
		var parent, child string
		var room int64
		var count int
		var participated bool
		var depth, stream int64 // only for the order of references
		if err := rows.Scan(&kind, &parent, &room, &child, &count, &participated, &depth, &stream); err != nil {
			return nil, err
		}
		if set.room[parent] != room {
			continue // a child in another room than its parent
		}
		s := out[parent]
		switch kind {
		case summaryThread:
			s.ThreadLatest, s.ThreadCount, s.ThreadParticipated = child, count, participated
		case summaryReplace:
			s.Replace = child
		case summaryReference:
			s.References = append(s.References, child)
		}
		out[parent] = s
	}
	return out, rows.Err()
}

// The kinds of row qRelationSummaries returns.
const (
	summaryThread = iota
	summaryReplace
	summaryReference
)

// qRelationSummaries is one statement for a page's aggregations, with
// three parameters: $1 the parents (a list, see inList), $2 the user,
// $3 the parents that want an m.replace. Its rows are (kind, parent,
// child's room, child, thread count, participated):
//
//   - a parent's thread, from event_threads;
//   - its latest edit: same room, sender and type as the parent, able to
//     replace (m.new_content), latest by origin_server_ts then event ID
//     (byte-wise: the PostgreSQL column collates "C");
//   - its first MaxBundledReferences references, oldest first.
//
// CROSS JOIN makes SQLite read the (usually absent) edits first and only
// then their parents, instead of probing events for every parent.
func qRelationSummaries(in func(col string, param int) string) string {
	return `SELECT ` + strconv.Itoa(summaryThread) + `, t.root_id, t.room_nid, t.latest_id, t.thread_count,
			EXISTS (SELECT 1 FROM event_relations x WHERE x.relates_to_id = t.root_id AND x.rel_type = 'm.thread'
				AND x.sender = $2 AND x.room_nid = t.room_nid), 0, 0
		FROM event_threads t WHERE ` + in("t.root_id", 1) + `
		UNION ALL
		SELECT ` + strconv.Itoa(summaryReplace) + `, relates_to_id, room_nid, event_id, 0, FALSE, 0, 0 FROM (
			SELECT x.relates_to_id, x.room_nid, x.event_id, ROW_NUMBER() OVER (
				PARTITION BY x.relates_to_id ORDER BY x.origin_server_ts DESC, x.event_id DESC) AS n
			FROM event_relations x CROSS JOIN events p
			WHERE p.event_id = x.relates_to_id AND x.rel_type = 'm.replace' AND x.replaces = TRUE AND x.room_nid = p.room_nid
				AND x.sender = p.sender AND x.type_nid = p.type_nid AND ` + in("x.relates_to_id", 3) + `) latest
		WHERE n = 1
		UNION ALL
		SELECT ` + strconv.Itoa(summaryReference) + `, relates_to_id, room_nid, event_id, 0, FALSE, topo_depth, stream_pos FROM (
			SELECT x.relates_to_id, x.room_nid, x.event_id, x.topo_depth, x.stream_pos, ROW_NUMBER() OVER (
				PARTITION BY x.relates_to_id, x.room_nid ORDER BY x.topo_depth, x.stream_pos) AS n
			FROM event_relations x WHERE x.rel_type = 'm.reference' AND ` + in("x.relates_to_id", 1) + `) refs
		WHERE n <= ` + strconv.Itoa(storage.MaxBundledReferences) + `
		ORDER BY 1, 2, 7, 8`
}

// inList is the condition "col is one of the strings in parameter
// param", which stringList encodes as one value: a PostgreSQL array, or
// a JSON array that SQLite reads with json_each. Binding one value
// instead of a placeholder per string makes a page's IDs cheap to pass
// (with SQLite, a few hundred placeholders cost more than the query), and
// lets a statement name the list more than once.
func (db *DB) inList(col string, param int) string {
	p := "$" + strconv.Itoa(param)
	if db.dialect.Name == Postgres.Name {
		return col + " = ANY(" + p + "::text[])"
	}
	return col + " IN (SELECT value FROM json_each(" + p + "))"
}

// stringList encodes vals for inList.
func (db *DB) stringList(vals []string) string {
	if db.dialect.Name == Postgres.Name {
		_, args := db.inStrings("", 1, vals)
		return args[0].(string)
	}
	if vals == nil {
		vals = []string{}
	}
	b, _ := json.Marshal(vals) // strings always marshal
	return string(b)
}
