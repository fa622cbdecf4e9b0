package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/warbler-im/warbler/internal/lru"
)

// Event types and state keys are stored once each and referred to by
// number everywhere else. The mappings never change once committed, so
// they are cached in process without invalidation. Mappings made inside a
// transaction are cached only after it commits: a rolled-back NID may be
// handed out again to another string.

// nidCache maps strings to NIDs and back.
type nidCache struct {
	byName *lru.Cache[string, int64]
	byNID  *lru.Cache[int64, string]
}

func newNIDCache(size int) *nidCache {
	return &nidCache{byName: lru.New[string, int64](size), byNID: lru.New[int64, string](size)}
}

func (c *nidCache) add(name string, nid int64) {
	c.byName.Add(name, nid, 1)
	c.byNID.Add(nid, name, 1)
}

func (c *nidCache) purge() {
	c.byName.Purge()
	c.byNID.Purge()
}

// nidTable names a string ↔ NID table.
type nidTable struct {
	table, nidCol, nameCol string
}

var (
	typesTable     = nidTable{"event_types", "type_nid", "type"}
	stateKeysTable = nidTable{"state_keys", "state_key_nid", "state_key"}
)

// querier is what reads need from *sql.DB and *sql.Tx alike.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// inChunk bounds the number of values in one IN (…) list, well under both
// engines' limits on bound parameters.
const inChunk = 1000

// placeholders returns "$first, $first+1, …" for n values.
func placeholders(first, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d", first+i)
	}
	return b.String()
}

// forChunks calls fn with consecutive slices of at most inChunk items.
func forChunks[T any](items []T, fn func(chunk []T) error) error {
	for len(items) > 0 {
		n := min(len(items), inChunk)
		if err := fn(items[:n]); err != nil {
			return err
		}
		items = items[n:]
	}
	return nil
}

func anySlice[T any](items []T) []any {
	out := make([]any, len(items))
	for i, v := range items {
		out[i] = v
	}
	return out
}

// lookupNIDs resolves names to NIDs through the cache and then q. Names
// not stored are absent from the result; nothing is created. Mappings read
// from q go to the cache, or, inside a transaction (pending not nil), to
// pending, to be cached once it commits: a row read there may be one the
// transaction itself inserted.
func (db *DB) lookupNIDs(ctx context.Context, q querier, c *nidCache, t nidTable, names []string, pending map[string]int64) (map[string]int64, error) {
	out := make(map[string]int64, len(names))
	queued := map[string]bool{}
	var missing []string
	for _, name := range names {
		if _, done := out[name]; done || queued[name] {
			continue
		}
		if nid, ok := c.byName.Get(name); ok {
			out[name] = nid
		} else {
			queued[name] = true
			missing = append(missing, name)
		}
	}
	err := forChunks(missing, func(chunk []string) error {
		cond, args := db.inStrings(t.nameCol, 1, chunk)
		query := fmt.Sprintf(`SELECT %s, %s FROM %s WHERE %s`, t.nameCol, t.nidCol, t.table, cond)
		rows, err := q.QueryContext(ctx, db.q(query), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var name string
			var nid int64
			if err := rows.Scan(&name, &nid); err != nil {
				return err
			}
			out[name] = nid
			if pending != nil {
				pending[name] = nid
			} else {
				c.add(name, nid)
			}
		}
		return rows.Err()
	})
	return out, err
}

// lookupNames resolves NIDs to strings through the cache and then q; every
// NID must exist. pending is as for lookupNIDs.
func (db *DB) lookupNames(ctx context.Context, q querier, c *nidCache, t nidTable, nids []int64, pending map[string]int64) (map[int64]string, error) {
	out := make(map[int64]string, len(nids))
	var missing []int64
	for _, nid := range nids {
		if _, done := out[nid]; done {
			continue
		}
		if name, ok := c.byNID.Get(nid); ok {
			out[nid] = name
		} else {
			out[nid] = ""
			missing = append(missing, nid)
		}
	}
	err := forChunks(missing, func(chunk []int64) error {
		cond, args := db.inInt64s(t.nidCol, 1, chunk)
		query := fmt.Sprintf(`SELECT %s, %s FROM %s WHERE %s`, t.nidCol, t.nameCol, t.table, cond)
		rows, err := q.QueryContext(ctx, db.q(query), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		found := 0
		for rows.Next() {
			var nid int64
			var name string
			if err := rows.Scan(&nid, &name); err != nil {
				return err
			}
			out[nid] = name
			if pending != nil {
				pending[name] = nid
			} else {
				c.add(name, nid)
			}
			found++
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if found != len(chunk) {
			return fmt.Errorf("storage: %s: %d of %d NIDs not found", t.table, len(chunk)-found, len(chunk))
		}
		return nil
	})
	return out, err
}

// assignNIDs resolves names to NIDs inside tx, creating the missing ones
// with multi-row inserts (a federated join may bring thousands of new
// state keys). New mappings are added to pending, to be cached after
// commit. Names are inserted in sorted order so that two transactions
// creating the same names cannot each wait for the other (PostgreSQL
// makes a conflicting insert wait for the first inserter's commit).
func (db *DB) assignNIDs(ctx context.Context, tx *sql.Tx, c *nidCache, t nidTable, names []string, pending map[string]int64) (map[string]int64, error) {
	out, err := db.lookupNIDs(ctx, tx, c, t, names, pending)
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, name := range names {
		if _, ok := out[name]; !ok {
			out[name] = 0 // marks it queued
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	slices.Sort(missing)
	err = forChunks(missing, func(chunk []string) error {
		var b strings.Builder
		fmt.Fprintf(&b, `INSERT INTO %s (%s) VALUES `, t.table, t.nameCol)
		for i := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(" + db.seqParams(i+1, 1) + ")")
		}
		fmt.Fprintf(&b, ` ON CONFLICT DO NOTHING RETURNING %s, %s`, t.nameCol, t.nidCol)
		rows, err := tx.QueryContext(ctx, db.q(b.String()), anySlice(chunk)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var name string
			var nid int64
			if err := rows.Scan(&name, &nid); err != nil {
				return err
			}
			out[name] = nid
			pending[name] = nid
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("storage: assign %s NIDs: %w", t.table, err)
	}
	// Names another transaction created (and committed) meanwhile.
	var raced []string
	for _, name := range missing {
		if out[name] == 0 {
			raced = append(raced, name)
		}
	}
	found, err := db.lookupNIDs(ctx, tx, c, t, raced, pending)
	if err != nil {
		return nil, err
	}
	for _, name := range raced {
		nid, ok := found[name]
		if !ok {
			return nil, fmt.Errorf("storage: assign %s NID for %q: not inserted and not found", t.table, name)
		}
		out[name] = nid
	}
	return out, nil
}
