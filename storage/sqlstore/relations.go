package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/warbler-im/warbler/storage"
)

// Event relationships (storage.RelationStore): the event_relations rows
// written by PersistEvents, the event_threads summary kept beside them,
// and the reads of /relations, /threads and the bundled aggregations.

// maxRelationTree bounds the descendants a recursive Relations query
// considers. Both engines evaluate a recursive WITH only as far as its
// reader asks, so the bound stops the walk of a huge tree, at the cost of
// leaving its far end out of the pages.
const maxRelationTree = 10_000

// maxRelationIDLength bounds the parent ID a relation may name; longer
// ones are not event IDs (the spec caps identifiers at 255 bytes).
const maxRelationIDLength = 255

const (
	qInsertRelation = `INSERT INTO event_relations (event_nid, event_id, relates_to_id, rel_type, room_nid,
		type_nid, sender, origin_server_ts, topo_depth, stream_pos, replaces)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING`
	// qAddThreadEvent counts a new event into its thread; qMoveThreadLatest
	// then makes it the latest if it sorts after the one recorded.
	qAddThreadEvent = `INSERT INTO event_threads (root_id, room_nid, latest_id, topo_depth, stream_pos, thread_count)
		VALUES ($1, $2, $3, $4, $5, 1)
		ON CONFLICT (root_id, room_nid) DO UPDATE SET thread_count = event_threads.thread_count + 1`
	qMoveThreadLatest = `UPDATE event_threads SET latest_id = $3, topo_depth = $4, stream_pos = $5
		WHERE root_id = $1 AND room_nid = $2 AND (topo_depth, stream_pos) < ($4, $5)`
)

// relationOf reads the relationship an event's JSON declares: the
// parent's ID and the rel_type, or ok false when it names none usable.
func relationOf(eventID string, eventJSON []byte) (parent, relType string, ok bool) {
	rel := gjson.GetBytes(eventJSON, `content.m\.relates_to`)
	if !rel.IsObject() {
		return "", "", false
	}
	p, t := rel.Get("event_id"), rel.Get("rel_type")
	if p.Type != gjson.String || t.Type != gjson.String {
		return "", "", false
	}
	parent, relType = p.String(), t.String()
	if !strings.HasPrefix(parent, "$") || len(parent) > maxRelationIDLength || parent == eventID ||
		relType == "" || len(relType) > maxRelationIDLength {
		return "", "", false
	}
	return parent, relType, true
}

// mayReplace says whether an event could be a valid m.replace: it carries
// m.new_content, unless it is encrypted (the new content is then inside
// the ciphertext), and it is not a state event.
func mayReplace(ev *storage.NewEvent) bool {
	if ev.StateKey != nil {
		return false
	}
	return ev.Type == "m.room.encrypted" || gjson.GetBytes(ev.JSON, `content.m\.new_content`).IsObject()
}

// recordRelation stores the relationship a newly placed timeline event
// declares, in the persist's transaction. Rejected and soft-failed events
// relate nothing: clients never see them.
func (p *persister) recordRelation(ctx context.Context, ev *storage.NewEvent, pos storage.PersistedPosition) error {
	if ev.Outlier || ev.Rejected != "" || ev.SoftFailed || pos.Existed {
		return nil
	}
	parent, relType, ok := relationOf(ev.EventID, ev.JSON)
	te := p.events[ev.EventID]
	if !ok || te == nil {
		return nil
	}
	_, err := p.tx.ExecContext(ctx, p.db.q(qInsertRelation), te.nid, ev.EventID, parent, relType, p.room,
		te.typ, ev.Sender, ev.OriginServerTS, pos.Topo.Depth, pos.Topo.Stream, mayReplace(ev))
	if err != nil {
		return fmt.Errorf("storage: record relation of %s: %w", ev.EventID, err)
	}
	p.relatedTo = append(p.relatedTo, parent)
	if relType != storage.RelThread {
		return nil
	}
	args := []any{parent, p.room, ev.EventID, pos.Topo.Depth, pos.Topo.Stream}
	if _, err := p.tx.ExecContext(ctx, p.db.q(qAddThreadEvent), args...); err != nil {
		return fmt.Errorf("storage: record thread event %s: %w", ev.EventID, err)
	}
	if _, err := p.tx.ExecContext(ctx, p.db.q(qMoveThreadLatest), args...); err != nil {
		return fmt.Errorf("storage: record thread event %s: %w", ev.EventID, err)
	}
	return nil
}

// forgetRelation removes the relationship of a redacted event, in the
// transaction that marks it, and brings its thread's summary up to date.
func (db *DB) forgetRelation(ctx context.Context, tx *sql.Tx, eventID string) error {
	var parent, relType string
	var room int64
	err := tx.QueryRowContext(ctx, db.q(`DELETE FROM event_relations
		WHERE event_nid = (SELECT event_nid FROM events WHERE event_id = $1)
		RETURNING relates_to_id, rel_type, room_nid`), eventID).Scan(&parent, &relType, &room)
	if errors.Is(err, sql.ErrNoRows) || err == nil && relType != storage.RelThread {
		return nil
	}
	if err != nil {
		return err
	}
	var latest string
	var depth, stream, count int64
	err = tx.QueryRowContext(ctx, db.q(`SELECT event_id, topo_depth, stream_pos,
		(SELECT COUNT(*) FROM event_relations c WHERE c.relates_to_id = $1 AND c.rel_type = $2 AND c.room_nid = $3)
		FROM event_relations WHERE relates_to_id = $1 AND rel_type = $2 AND room_nid = $3
		ORDER BY topo_depth DESC, stream_pos DESC LIMIT 1`), parent, storage.RelThread, room).Scan(&latest, &depth, &stream, &count)
	if errors.Is(err, sql.ErrNoRows) {
		_, err = tx.ExecContext(ctx, db.q(`DELETE FROM event_threads WHERE root_id = $1 AND room_nid = $2`), parent, room)
		return err
	}
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, db.q(`UPDATE event_threads SET latest_id = $3, topo_depth = $4, stream_pos = $5,
		thread_count = $6 WHERE root_id = $1 AND room_nid = $2`), parent, room, latest, depth, stream, count)
	return err
}

// Relations implements storage.RelationStore.
func (db *DB) Relations(ctx context.Context, q storage.RelationsQuery) ([]storage.StoredEvent, error) {
	room, err := db.roomNIDOf(ctx, q.RoomID)
	if err != nil {
		return nil, err
	}
	if q.Limit <= 0 {
		return []storage.StoredEvent{}, nil
	}
	args := []any{q.EventID, room}
	filter := ""
	if q.RelType != "" {
		args = append(args, q.RelType)
		filter += ` AND x.rel_type = $` + strconv.Itoa(len(args))
	}
	if q.EventType != "" {
		args = append(args, q.EventType)
		filter += ` AND x.type_nid = (SELECT type_nid FROM event_types WHERE type = $` + strconv.Itoa(len(args)) + `)`
	}
	lo, hi, order := q.To, q.From, ` ORDER BY x.topo_depth DESC, x.stream_pos DESC`
	if !q.Backwards {
		lo, hi, order = q.From, q.To, ` ORDER BY x.topo_depth, x.stream_pos`
	}
	n := len(args)
	args = append(args, hi.Depth, hi.Stream, lo.Depth, lo.Stream, q.Limit)
	children := `x.relates_to_id = $1 AND x.room_nid = $2` + filter
	if q.Recurse {
		children = `x.event_nid IN (SELECT event_nid FROM tree LIMIT ` + strconv.Itoa(maxRelationTree) + `)`
	}
	query := qSelectEvents + ` JOIN event_relations x ON x.event_nid = e.event_nid WHERE ` + children + `
		AND (x.topo_depth, x.stream_pos) < ($` + strconv.Itoa(n+1) + `, $` + strconv.Itoa(n+2) + `)
		AND (x.topo_depth, x.stream_pos) > ($` + strconv.Itoa(n+3) + `, $` + strconv.Itoa(n+4) + `)` +
		order + ` LIMIT $` + strconv.Itoa(n+5)
	if q.Recurse {
		query = relationTree(filter) + query
	}
	events, err := db.queryEvents(ctx, db.reader, query, args...)
	if events == nil && err == nil {
		events = []storage.StoredEvent{}
	}
	return events, err
}

// relationTree is the recursive part of a Relations query with Recurse:
// the children, their children and so on to MaxRelationDepth levels,
// filtered at every level (a child reached only through a filtered-out
// event is not returned: spec, "Relationships API"). The depth bound also
// ends loops, which old room versions' chosen event IDs could make. A
// direct query (no Recurse) walks the parent's index in order instead,
// reading only the page.
func relationTree(filter string) string {
	return `WITH RECURSIVE tree (event_nid, event_id, lvl) AS (
		SELECT x.event_nid, x.event_id, 1 FROM event_relations x
		WHERE x.relates_to_id = $1 AND x.room_nid = $2` + filter + `
		UNION
		SELECT x.event_nid, x.event_id, tree.lvl + 1 FROM event_relations x JOIN tree ON x.relates_to_id = tree.event_id
		WHERE tree.lvl < ` + strconv.Itoa(storage.MaxRelationDepth) + ` AND x.room_nid = $2 AND x.event_id <> $1` + filter + `) `
}

// ThreadRoots implements storage.RelationStore.
func (db *DB) ThreadRoots(ctx context.Context, roomID, userID string, participated bool, before storage.TopoPos, limit int) ([]storage.ThreadRoot, error) {
	room, err := db.roomNIDOf(ctx, roomID)
	if err != nil {
		return nil, err
	}
	out := []storage.ThreadRoot{}
	if limit <= 0 {
		return out, nil
	}
	query := `SELECT t.root_id, t.topo_depth, t.stream_pos FROM event_threads t
		WHERE t.room_nid = $1 AND (t.topo_depth, t.stream_pos) < ($2, $3)`
	args := []any{room, before.Depth, before.Stream, limit}
	if participated {
		query += ` AND (EXISTS (SELECT 1 FROM event_relations x WHERE x.relates_to_id = t.root_id
				AND x.rel_type = 'm.thread' AND x.sender = $5 AND x.room_nid = t.room_nid)
			OR EXISTS (SELECT 1 FROM events e WHERE e.event_id = t.root_id AND e.sender = $5))`
		args = append(args, userID)
	}
	rows, err := db.reader.QueryContext(ctx, db.q(query+` ORDER BY t.topo_depth DESC, t.stream_pos DESC LIMIT $4`), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var r storage.ThreadRoot
		if err := rows.Scan(&r.EventID, &r.Latest.Depth, &r.Latest.Stream); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
