package push

import (
	"regexp"
	"strings"

	"github.com/warbler-im/warbler/internal/lru"
)

// globCache keeps compiled patterns: a user's rules are evaluated for
// every event of their rooms, and compiling is far dearer than matching.
var globCache = lru.New[globKey, *regexp.Regexp](4096)

type globKey struct {
	pattern string
	words   bool
}

// globMatch matches value against a glob pattern (appendix: "Glob-style
// matching": * any run, ? one character) case-insensitively. With words
// set (event_match on content.body, content rules) the pattern may match
// any substring that starts and ends at a word boundary; otherwise it
// must match the whole value.
func globMatch(pattern, value string, words bool) bool {
	if pattern != "" && !strings.ContainsAny(pattern, "*?") {
		return literalMatch(pattern, value, words)
	}
	key := globKey{pattern, words}
	re, ok := globCache.Get(key)
	if !ok {
		re = compileGlob(pattern, words)
		globCache.Put(key, re)
	}
	return re.MatchString(value)
}

// compileGlob turns a glob into an anchored, case-insensitive regexp.
// A word boundary is the value's start or end or a character outside
// [A-Za-z0-9_].
func compileGlob(pattern string, words bool) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`(?is)`)
	if words {
		b.WriteString(`(?:^|[^A-Za-z0-9_])`)
	} else {
		b.WriteString(`^`)
	}
	for _, r := range pattern {
		switch r {
		case '*':
			b.WriteString(`.*`)
		case '?':
			b.WriteString(`.`)
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	if words {
		b.WriteString(`(?:[^A-Za-z0-9_]|$)`)
	} else {
		b.WriteString(`$`)
	}
	return regexp.MustCompile(b.String())
}

// literalMatch is globMatch for a pattern without wildcards, the common
// case (every default rule), without a regexp.
func literalMatch(pattern, value string, words bool) bool {
	if !words {
		return strings.EqualFold(pattern, value)
	}
	value, pattern = strings.ToLower(value), strings.ToLower(pattern)
	for from := 0; from <= len(value)-len(pattern); {
		i := strings.Index(value[from:], pattern)
		if i < 0 {
			return false
		}
		start, end := from+i, from+i+len(pattern)
		if (start == 0 || !isWordByte(value[start-1])) && (end == len(value) || !isWordByte(value[end])) {
			return true
		}
		from = start + 1
	}
	return false
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}
