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

// Server-side search (storage.SearchStore). The one place where the two
// engines differ is how a document is indexed and matched, so that part
// is a searchSQL per dialect; the rest of the query is shared.

// searchSQL is what one engine spells differently for full-text search.
type searchSQL struct {
	// insert indexes ($1 event_nid, $2 text).
	insert string
	// remove drops the document of the event whose ID is $1.
	remove string
	// from joins the index to events e; match restricts it to documents
	// matching $1; rank scores a match, higher meaning closer.
	from, match, rank string
	// matchArg turns the words into the $1 of match.
	matchArg func(words []string) string
}

var searchDialects = map[string]searchSQL{
	SQLite.Name: {
		insert: `INSERT INTO event_search (rowid, text) VALUES ($1, $2)`,
		remove: `DELETE FROM event_search WHERE rowid = (SELECT event_nid FROM events WHERE event_id = $1)`,
		from:   `event_search JOIN events e ON e.event_nid = event_search.rowid`,
		match:  `event_search MATCH $1`,
		// bm25 is lower for closer matches.
		rank:     `-bm25(event_search)`,
		matchArg: fts5Query,
	},
	Postgres.Name: {
		insert: `INSERT INTO event_search (event_nid, vector) VALUES ($1, to_tsvector('english', $2))`,
		remove: `DELETE FROM event_search WHERE event_nid = (SELECT event_nid FROM events WHERE event_id = $1)`,
		from:   `event_search s JOIN events e ON e.event_nid = s.event_nid`,
		match:  `s.vector @@ plainto_tsquery('english', $1)`,
		// float8, so a rank read back from a next_batch token compares
		// equal to the one computed again (ts_rank's real would not).
		rank:     `ts_rank(s.vector, plainto_tsquery('english', $1))::float8`,
		matchArg: func(words []string) string { return strings.Join(words, " ") },
	},
}

func (db *DB) searchSQL() searchSQL { return searchDialects[db.dialect.Name] }

// fts5Query is an FTS5 query matching documents that hold every word:
// each word a quoted string (so nothing in it is query syntax), joined by
// spaces, FTS5's implicit AND.
func fts5Query(words []string) string {
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = `"` + strings.ReplaceAll(w, `"`, `""`) + `"`
	}
	return strings.Join(quoted, " ")
}

// maxIndexedText bounds the text indexed per event (events are at most
// 64 KiB, so this only guards against a future raise of that bound).
const maxIndexedText = 65536

// searchableText is the text an event contributes to the index, or "" if
// it contributes none: the keys the spec lets clients search, with
// m.room.topic's text/plain representation beside content.topic.
func searchableText(ev *storage.NewEvent) string {
	content := gjson.GetBytes(ev.JSON, "content")
	var parts []string
	isStateSlot := ev.StateKey != nil && *ev.StateKey == ""
	switch {
	case ev.Type == storage.SearchTypeMessage && ev.StateKey == nil:
		parts = append(parts, stringAt(content, "body"))
	case ev.Type == storage.SearchTypeName && isStateSlot:
		parts = append(parts, stringAt(content, "name"))
	case ev.Type == storage.SearchTypeTopic && isStateSlot:
		topic := stringAt(content, "topic")
		parts = append(parts, topic)
		for _, rep := range content.Get(`m\.topic`).Array() {
			mime := rep.Get("mimetype").String()
			if body := stringAt(rep, "body"); (mime == "" || mime == "text/plain") && body != topic {
				parts = append(parts, body)
			}
		}
	}
	return cleanIndexText(strings.TrimSpace(strings.Join(parts, "\n")))
}

func stringAt(v gjson.Result, path string) string {
	if r := v.Get(path); r.Type == gjson.String {
		return r.String()
	}
	return ""
}

// cleanIndexText makes text safe for both engines: valid UTF-8 without
// NUL characters (PostgreSQL refuses them in text, and an index write
// that fails would fail the whole persist), and bounded.
func cleanIndexText(s string) string {
	if len(s) > maxIndexedText {
		s = s[:maxIndexedText]
	}
	s = strings.ToValidUTF8(s, " ")
	return strings.ReplaceAll(s, "\x00", " ")
}

// indexForSearch adds a just-stored event to the search index, inside the
// persist's transaction. Only what clients may see is indexed.
func (p *persister) indexForSearch(ctx context.Context, ev *storage.NewEvent) error {
	if ev.Outlier || ev.Rejected != "" || ev.SoftFailed {
		return nil
	}
	text := searchableText(ev)
	te := p.events[ev.EventID]
	if text == "" || te == nil {
		return nil
	}
	if _, err := p.tx.ExecContext(ctx, p.db.q(p.db.searchSQL().insert), te.nid, text); err != nil {
		return fmt.Errorf("storage: index %s for search: %w", ev.EventID, err)
	}
	return nil
}

// dropFromSearch takes a redacted event out of the search index. Searches
// also skip events marked redacted, so the moment between the mark and
// this delete shows nothing.
func (db *DB) dropFromSearch(ctx context.Context, ex execer, eventID string) error {
	_, err := ex.ExecContext(ctx, db.q(db.searchSQL().remove), eventID)
	return err
}

// SearchEvents implements storage.SearchStore.
func (db *DB) SearchEvents(ctx context.Context, q storage.SearchQuery) ([]storage.SearchHit, error) {
	if err := checkSearchQuery(q); err != nil {
		return nil, err
	}
	if len(q.Words) == 0 || len(q.RoomIDs) == 0 || len(q.Types) == 0 || q.Limit <= 0 ||
		q.Senders != nil && len(*q.Senders) == 0 {
		return []storage.SearchHit{}, nil
	}
	rs, err := db.roomsFor(ctx)
	if err != nil {
		return nil, err
	}
	roomNIDs, typeNIDs, err := db.searchNIDs(ctx, rs, q)
	if err != nil || len(roomNIDs) == 0 || len(typeNIDs) == 0 {
		return []storage.SearchHit{}, err
	}
	query, args := db.searchStatement(q, roomNIDs, typeNIDs)
	return scanSearchHits(db.reader.QueryContext(ctx, db.q(query), args...))
}

func checkSearchQuery(q storage.SearchQuery) error {
	switch {
	case len(q.Words) > storage.MaxSearchWords:
		return fmt.Errorf("storage: a search has at most %d words", storage.MaxSearchWords)
	case len(q.RoomIDs) > storage.MaxSearchRooms:
		return fmt.Errorf("storage: a search covers at most %d rooms", storage.MaxSearchRooms)
	case q.Limit > storage.MaxSearchHits:
		return fmt.Errorf("storage: a search returns at most %d results", storage.MaxSearchHits)
	case q.Senders != nil && len(*q.Senders) > storage.MaxSearchFilterUsers || len(q.NotSenders) > storage.MaxSearchFilterUsers:
		return fmt.Errorf("storage: a search filters at most %d senders", storage.MaxSearchFilterUsers)
	}
	for _, w := range q.Words {
		if w == "" {
			return errors.New("storage: a search word is empty")
		}
	}
	return nil
}

// searchNIDs resolves the query's rooms and types; unknown ones drop out.
func (db *DB) searchNIDs(ctx context.Context, rs *roomsState, q storage.SearchQuery) (rooms, types []int64, err error) {
	byRoom, err := db.roomNIDs(ctx, rs, q.RoomIDs)
	if err != nil {
		return nil, nil, err
	}
	seen := map[int64]bool{}
	for _, nid := range byRoom {
		if !seen[nid] {
			seen[nid] = true
			rooms = append(rooms, nid)
		}
	}
	byType, err := db.lookupNIDs(ctx, db.reader, rs.types, typesTable, q.Types, nil)
	for _, nid := range byType {
		types = append(types, nid)
	}
	return rooms, types, err
}

// searchStatement builds the query. The numbered parameters ($1 the
// match, then the continuation) come first in the text and the IN lists
// last, as inInt64s requires; the limit is a literal for the same reason.
func (db *DB) searchStatement(q storage.SearchQuery, rooms, types []int64) (string, []any) {
	dial := db.searchSQL()
	args := []any{dial.matchArg(q.Words)}
	var b strings.Builder
	b.WriteString(`SELECT e.event_id, r.room_id, e.sender, ` + dial.rank + `, e.stream_pos FROM ` + dial.from +
		` JOIN rooms r ON r.room_nid = e.room_nid WHERE ` + dial.match + ` AND e.redacted_because IS NULL`)
	if q.After != nil {
		if q.ByRank {
			b.WriteString(` AND (` + dial.rank + ` < $2 OR ` + dial.rank + ` = $2 AND e.stream_pos < $3)`)
			args = append(args, q.After.Rank, q.After.Stream)
		} else {
			b.WriteString(` AND e.stream_pos < $2`)
			args = append(args, q.After.Stream)
		}
	}
	addIn := func(cond string, condArgs []any, negate bool) {
		if negate {
			cond = "NOT (" + cond + ")"
		}
		b.WriteString(" AND " + cond)
		args = append(args, condArgs...)
	}
	cond, condArgs := db.inInt64s("e.room_nid", len(args)+1, rooms)
	addIn(cond, condArgs, false)
	cond, condArgs = db.inInt64s("e.type_nid", len(args)+1, types)
	addIn(cond, condArgs, false)
	if q.Senders != nil {
		cond, condArgs = db.inStrings("e.sender", len(args)+1, *q.Senders)
		addIn(cond, condArgs, false)
	}
	if len(q.NotSenders) > 0 {
		cond, condArgs = db.inStrings("e.sender", len(args)+1, q.NotSenders)
		addIn(cond, condArgs, true)
	}
	if q.ByRank {
		b.WriteString(` ORDER BY 4 DESC, e.stream_pos DESC`)
	} else {
		b.WriteString(` ORDER BY e.stream_pos DESC`)
	}
	b.WriteString(` LIMIT ` + strconv.Itoa(q.Limit))
	return b.String(), args
}

func scanSearchHits(rows *sql.Rows, err error) ([]storage.SearchHit, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []storage.SearchHit{}
	for rows.Next() {
		var h storage.SearchHit
		if err := rows.Scan(&h.EventID, &h.RoomID, &h.Sender, &h.Rank, &h.Stream); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}
