package open

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/warbler-im/warbler/storage"
	"github.com/warbler-im/warbler/storage/postgres"
	"github.com/warbler-im/warbler/storage/sqlite"
)

const sqlitePrefix = "sqlite:"

// Open opens the database that url names. pg sizes the pool when url is a
// PostgreSQL one and is ignored otherwise.
func Open(ctx context.Context, url string, pg postgres.Options) (storage.Database, error) {
	switch {
	case strings.HasPrefix(url, sqlitePrefix):
		path := strings.TrimPrefix(url, sqlitePrefix)
		if strings.HasPrefix(path, "//") {
			// "sqlite://data.db" would silently mean the file /data.db.
			return nil, errors.New(`storage: database URL "sqlite://…" is ambiguous: write sqlite:relative/path.db or sqlite:/absolute/path.db`)
		}
		return sqlite.Open(ctx, path)
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return postgres.Open(ctx, url, pg)
	default:
		return nil, fmt.Errorf("storage: unsupported database URL (scheme %q): want sqlite:PATH, postgres://… or postgresql://…", scheme(url))
	}
}

// scheme returns what precedes the first ':' of url if it looks like a URL
// scheme, which is all of url that an error may safely repeat.
func scheme(url string) string {
	s, _, found := strings.Cut(url, ":")
	if !found || len(s) > 20 || strings.ContainsFunc(s, notSchemeChar) {
		return ""
	}
	return s
}

func notSchemeChar(r rune) bool {
	return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '+' || r == '-' || r == '.')
}
