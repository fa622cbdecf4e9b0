package sqlstore

import "strings"

// Dialect holds what differs between the SQL engines. Everything else, from
// ON CONFLICT upserts to RETURNING, is spelt the same in SQLite (3.35 and
// later) and PostgreSQL, so the queries need no other hooks; add a field
// here only when a query genuinely cannot be written once. Schema (DDL)
// differences such as BLOB against BYTEA live in each engine's migration
// files instead.
type Dialect struct {
	// Name identifies the engine in error messages.
	Name string
	// placeholderPrefix replaces "$" in "$1"-style placeholders.
	placeholderPrefix byte
	// migrationLock, when set, runs first in every migration transaction
	// so that several processes starting against one database apply
	// migrations one at a time. SQLite needs none: a write transaction
	// already locks the whole file.
	migrationLock string
	// find names the function giving the 1-based position of a substring
	// in a string (0 if absent): instr(haystack, needle) in SQLite,
	// strpos(haystack, needle) in PostgreSQL, which has no instr.
	find string
}

// SQLite is the dialect of modernc.org/sqlite. Its "?NNN" placeholders keep
// the numbering of the query text, so "$2 ... $1" binds as written.
var SQLite = Dialect{Name: "sqlite", placeholderPrefix: '?', find: "instr"}

// Postgres is the dialect of PostgreSQL through github.com/lib/pq.
var Postgres = Dialect{
	Name:              "postgres",
	placeholderPrefix: '$',
	find:              "strpos",
	// An arbitrary constant naming Warbler's migration lock; it is held
	// until the migration transaction ends.
	migrationLock: "SELECT pg_advisory_xact_lock(7262830001)",
}

// Rebind rewrites the $N placeholders of query into the dialect's own
// syntax. Text inside quotes is left alone.
func (d Dialect) Rebind(query string) string {
	if d.placeholderPrefix == '$' || !strings.Contains(query, "$") {
		return query
	}
	out := []byte(query)
	var quote byte // the quote character we are inside of, or 0
	for i := 0; i < len(out); i++ {
		c := out[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '$' && i+1 < len(out) && isDigit(out[i+1]):
			out[i] = d.placeholderPrefix
		}
	}
	return string(out)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
