package sqlstore

import (
	"context"
	"strconv"
	"strings"
)

// The room store's SQL that more than one file uses, and its one dialect
// difference. Queries are written once with $N placeholders, like the rest
// of sqlstore.

const (
	// qLockRoom reads the room a persist writes to; on PostgreSQL it also
	// locks the row (see forUpdate) so that two processes persisting into
	// one room queue instead of interleaving.
	qLockRoom = `SELECT room_nid, current_snapshot FROM rooms WHERE room_id = $1`

	// qTakeStream hands out the next n events stream positions and
	// returns the last (SQLite; PostgreSQL uses a sequence, stream.go).
	// The row lock it takes is held until commit, so no transaction can
	// take later positions and commit first: stream order is commit
	// order, and a reader that sees position N sees everything up to N.
	qTakeStream = `UPDATE stream_positions SET position = position + $1 WHERE stream = 'events' RETURNING position`
	// qTakeBackfill hands out n positions below every earlier one and
	// returns the lowest.
	qTakeBackfill = `UPDATE stream_positions SET position = position - $1 WHERE stream = 'backfill' RETURNING position`
	qMaxStream    = `SELECT position FROM stream_positions WHERE stream = 'events'`

	// qEventInfo is what the write path needs to know about a stored event.
	qEventInfo = `SELECT event_id, event_nid, room_nid, type_nid, state_key_nid, outlier, rejected IS NOT NULL,
		COALESCE(stream_pos, 0), COALESCE(topo_depth, 0) FROM events`
	qEventByID = qEventInfo + ` WHERE event_id = $1`

	qInsertEventHead = `INSERT INTO events (event_id, room_nid, type_nid, state_key_nid, sender, depth,
		origin_server_ts, json, outlier, rejected, soft_failed, stream_pos, topo_depth, state_before)`
	qInsertEvent = qInsertEventHead + `
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
		RETURNING event_nid, EXISTS (SELECT 1 FROM event_relations r WHERE r.relates_to_id = $1)`
	qDeoutlierEvent = `UPDATE events SET outlier = FALSE, json = $2, rejected = $3, soft_failed = $4,
		stream_pos = $5, topo_depth = $6, state_before = $7
		WHERE event_nid = $1`

	qClearExtremities = `DELETE FROM forward_extremities WHERE room_nid = $1`
	qAddExtremity     = `INSERT INTO forward_extremities (room_nid, event_nid) VALUES ($1, $2) ON CONFLICT DO NOTHING`
	// qSetExtremities replaces a room's forward extremities with the
	// array $2 in one round trip (PostgreSQL): the DELETE spares the rows
	// that stay, so the INSERT's ON CONFLICT skips exactly those.
	qSetExtremities = `WITH gone AS (DELETE FROM forward_extremities WHERE room_nid = $1 AND event_nid <> ALL($2::bigint[]))
	INSERT INTO forward_extremities (room_nid, event_nid) SELECT $1, unnest($2::bigint[]) ON CONFLICT DO NOTHING`

	// qSelectEvents reads StoredEvents; scanEvent reads its rows.
	qSelectEvents = `SELECT e.event_id, r.room_id, t.type, sk.state_key, e.sender, e.depth, e.origin_server_ts,
		e.json, e.outlier, e.rejected, e.soft_failed, e.stream_pos, e.topo_depth, e.state_before, e.redacted_because
		FROM events e
		JOIN rooms r ON r.room_nid = e.room_nid
		JOIN event_types t ON t.type_nid = e.type_nid
		LEFT JOIN state_keys sk ON sk.state_key_nid = e.state_key_nid`

	qSnapshotMeta = `SELECT room_nid, keyframe_nid, delta_count, delta FROM state_snapshots WHERE snapshot_nid = $1`
)

// maxPreparedEdges is the most edges inserted by a prepared statement;
// more go through insertRows.
const maxPreparedEdges = 8

const (
	qInsertEdgesHead = `INSERT INTO event_edges (ref_event_id, kind, event_nid)`
	qInsertEdgesTail = `ON CONFLICT DO NOTHING`
)

// edgesInsert is the statement inserting n edges.
func edgesInsert(n int) string {
	var b strings.Builder
	b.WriteString(qInsertEdgesHead + " VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(" + placeholders(3*i+1, 3) + ")")
	}
	return b.String() + " " + qInsertEdgesTail
}

// forUpdate is the row-lock clause for qLockRoom. SQLite has no row
// locks and needs none: its one writer connection already serialises
// write transactions.
func forUpdate(d Dialect) string {
	if d.Name == Postgres.Name {
		return " FOR UPDATE"
	}
	return ""
}

// maxRowParams bounds the parameters of one multi-row statement, well
// under both engines' limits.
const maxRowParams = 900

// insertRows runs head + " VALUES (…), (…) " + tail with args holding
// width values per row, in as few statements as the parameter bound
// allows. Sending many rows per statement saves a round trip per row on
// PostgreSQL.
func (db *DB) insertRows(ctx context.Context, ex execer, head string, width int, args []any, tail string) error {
	perStmt := maxRowParams / width
	for len(args) > 0 {
		n := min(len(args)/width, perStmt)
		var b strings.Builder
		b.WriteString(head)
		b.WriteString(" VALUES ")
		for i := range n {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(")
			b.WriteString(db.seqParams(i*width+1, width))
			b.WriteString(")")
		}
		b.WriteString(" ")
		b.WriteString(tail)
		if _, err := ex.ExecContext(ctx, db.q(b.String()), args[:n*width]...); err != nil {
			return err
		}
		args = args[n*width:]
	}
	return nil
}

// seqParams returns placeholders for parameters first … first+n-1 that
// come last in a statement's text, after every lower-numbered one. SQLite
// then gets anonymous "?" parameters, which it numbers in that same
// order: the driver looks up the name of each numbered parameter ("?7")
// by walking a list of them all, which makes binding a statement of a
// thousand numbered parameters cost milliseconds.
func (db *DB) seqParams(first, n int) string {
	if db.dialect.Name == Postgres.Name {
		return placeholders(first, n)
	}
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// inInt64s returns the condition "col is one of vals", numbering its
// placeholders from first (see seqParams: they must come last), with its
// arguments. PostgreSQL gets one array
// parameter (col = ANY($n::bigint[])): a list of hundreds of parameters
// costs it milliseconds to parse and plan, an array almost nothing.
// SQLite has no arrays and gets an IN list. Callers keep vals to inChunk
// values.
func (db *DB) inInt64s(col string, first int, vals []int64) (string, []any) {
	if db.dialect.Name == Postgres.Name {
		return col + " = ANY($" + strconv.Itoa(first) + "::bigint[])", []any{int64Array(vals)}
	}
	return col + " IN (" + db.seqParams(first, len(vals)) + ")", anySlice(vals)
}

// int64Array is vals in PostgreSQL's array syntax, for a bigint[]
// parameter.
func int64Array(vals []int64) string {
	b := make([]byte, 0, len(vals)*8+2)
	b = append(b, '{')
	for i, v := range vals {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, v, 10)
	}
	return string(append(b, '}'))
}

// inStrings is inInt64s for strings. In PostgreSQL's array syntax each
// element is quoted, with backslash escapes for quotes and backslashes.
func (db *DB) inStrings(col string, first int, vals []string) (string, []any) {
	if db.dialect.Name == Postgres.Name {
		var b strings.Builder
		b.WriteByte('{')
		for i, v := range vals {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('"')
			for j := 0; j < len(v); j++ {
				if v[j] == '"' || v[j] == '\\' {
					b.WriteByte('\\')
				}
				b.WriteByte(v[j])
			}
			b.WriteByte('"')
		}
		b.WriteByte('}')
		return col + " = ANY($" + strconv.Itoa(first) + "::text[])", []any{b.String()}
	}
	return col + " IN (" + db.seqParams(first, len(vals)) + ")", anySlice(vals)
}
