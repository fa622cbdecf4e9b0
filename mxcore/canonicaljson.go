package mxcore

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
	"unicode/utf8"
)

// Canonical JSON (spec appendix "Canonical JSON"): the shortest UTF-8
// encoding, object keys sorted by Unicode code point, integers only, in
// [-(2^53)+1, 2^53-1], written without exponent or fraction.
//
// Decisions the spec leaves open, taken here:
//
//   - Duplicate object keys are rejected. JSON parsers disagree on which
//     duplicate wins (gjson takes the first, encoding/json and Python the
//     last), so accepting them would let the bytes we read fields from differ
//     from the bytes we hash and sign.
//   - Invalid UTF-8, lone surrogate escapes (\ud800 without its pair) and
//     raw control characters inside strings are rejected.
//   - A number written with a fraction or exponent is accepted when its exact
//     value is an integer in range, as the appendix's own example shows
//     ({"b": 1e10} becomes {"b":10000000000}); -0 becomes 0. Event
//     validation for room versions 6 and later is stricter, see
//     canonOptions.plainIntegers.
//   - Nesting deeper than maxJSONNesting is rejected, so hostile input
//     cannot exhaust the stack.
//   - Any JSON value may be the top-level value, not just an object.

// maxJSONNesting bounds object/array nesting. Python's JSON decoder stops
// at its default recursion limit of about 1000, so servers written in
// Python could never have accepted deeper JSON either.
const maxJSONNesting = 1000

// JSONError reports why input is not acceptable JSON, and where.
type JSONError struct {
	Offset int    // byte offset into the input
	Reason string // what was wrong there
}

func (e *JSONError) Error() string {
	return fmt.Sprintf("invalid JSON at byte %d: %s", e.Offset, e.Reason)
}

// CanonicalJSON re-encodes a JSON value as the spec's canonical JSON. It
// rejects input that has no canonical form: floats, integers outside the
// safe range, duplicate keys, invalid UTF-8 and lone surrogates.
func CanonicalJSON(in []byte) ([]byte, error) {
	return canonicalJSON(in, canonOptions{})
}

// CanonicalJSONLax is CanonicalJSON for room versions 1–5, whose events
// predate the integer rules and must still be hashed as their senders did.
// Integers outside the safe range are kept digit for digit, and other
// non-integers are written the way Python's json module writes floats
// (shortest round-trip digits, e.g. 1.5, 1e+100, 1e-05), since Python
// servers produced most such events. Everything else is as CanonicalJSON.
func CanonicalJSONLax(in []byte) ([]byte, error) {
	return canonicalJSON(in, canonOptions{lax: true})
}

// canonOptions selects the variant of canonical JSON to produce.
type canonOptions struct {
	// lax tolerates numbers outside canonical JSON (room versions 1–5).
	lax bool
	// plainIntegers rejects numbers written with a fraction or exponent,
	// even when their value is an integer: events of room versions 6+ must
	// follow the canonical grammar, whose only number form is an integer.
	plainIntegers bool
	// skipTop names top-level object keys to leave out of the output (they
	// are still validated), e.g. "signatures" and "unsigned" when signing.
	skipTop []string
	// redaction, when active, makes the output the redacted event, so
	// hashing and signing need not build the redacted JSON first.
	redaction redactionFilter
}

// canonOptionsFor picks the number rules of a room version.
func canonOptionsFor(ver RoomVersion, skipTop ...string) canonOptions {
	return canonOptions{lax: !ver.StrictCanonicalJSON, skipTop: skipTop}
}

func canonicalJSON(in []byte, opts canonOptions) ([]byte, error) {
	c := getCanonicaliser()
	defer putCanonicaliser(c)
	out, err := c.run(make([]byte, 0, len(in)+16), in, opts)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// withCanonicalJSON hands use the canonical form of in, in a pooled buffer
// that is only valid during the call. Hashing and signature checks use it
// to avoid allocating the canonical bytes they throw away at once.
func withCanonicalJSON(in []byte, opts canonOptions, use func(canonical []byte) error) error {
	c := getCanonicaliser()
	defer putCanonicaliser(c)
	out, err := c.run(c.outBuf[:0], in, opts)
	c.outBuf = out
	if err != nil {
		return err
	}
	return use(out)
}

// canonicaliser is a single-pass recursive-descent parser that writes the
// canonical form as it reads. Members of an object are written in input
// order; when the object closes, they are reordered in place if needed.
type canonicaliser struct {
	in      []byte
	pos     int
	out     []byte
	opts    canonOptions
	depth   int
	members []member // a stack: each open object owns a suffix
	// keyArena holds decoded keys that are not in out; reset per run.
	keyArena []byte
	// childScope tells the object about to be read where it sits, for
	// the key filters; set by the member whose value it is.
	childScope objectScope
	scratch    []byte // reordering space
	digits     []byte // number normalisation space
	outBuf     []byte // reused output for withCanonicalJSON
}

// member is one "key":value pair of an object being canonicalised.
type member struct {
	// start and end delimit the pair in out.
	start, end int
	// keyStart and keyEnd delimit the decoded key: in out, where the key's
	// characters equal it unless they needed escaping, else in keyArena.
	keyStart, keyEnd int
	keyInArena       bool
	skipped          bool // dropped by a key filter: validated, not written
}

var canonicaliserPool = sync.Pool{New: func() any { return new(canonicaliser) }}

func getCanonicaliser() *canonicaliser { return canonicaliserPool.Get().(*canonicaliser) }

func putCanonicaliser(c *canonicaliser) {
	// Don't let one huge input pin a huge buffer forever.
	const keepBytes = 256 << 10
	if cap(c.outBuf) > keepBytes {
		c.outBuf = nil
	}
	if cap(c.scratch) > keepBytes {
		c.scratch = nil
	}
	if cap(c.keyArena) > keepBytes {
		c.keyArena = nil
	}
	if cap(c.members) > keepBytes/64 {
		c.members = nil
	}
	c.in, c.out, c.opts = nil, nil, canonOptions{}
	c.members = c.members[:0]
	canonicaliserPool.Put(c)
}

func (c *canonicaliser) run(dst, in []byte, opts canonOptions) ([]byte, error) {
	c.in, c.pos, c.out, c.opts, c.depth = in, 0, dst, opts, 0
	c.members, c.keyArena, c.childScope = c.members[:0], c.keyArena[:0], scopeOther
	if err := c.value(); err != nil {
		return c.out, err
	}
	c.skipSpace()
	if c.pos != len(c.in) {
		return c.out, c.fail("unexpected data after the JSON value")
	}
	return c.out, nil
}

func (c *canonicaliser) fail(reason string) error {
	return &JSONError{Offset: c.pos, Reason: reason}
}

func (c *canonicaliser) skipSpace() {
	for c.pos < len(c.in) {
		switch c.in[c.pos] {
		case ' ', '\t', '\n', '\r':
			c.pos++
		default:
			return
		}
	}
}

// peek returns the next byte, or 0 at the end of input.
func (c *canonicaliser) peek() byte {
	if c.pos < len(c.in) {
		return c.in[c.pos]
	}
	return 0
}

func (c *canonicaliser) value() error {
	c.skipSpace()
	switch b := c.peek(); {
	case b == '{':
		return c.object()
	case b == '[':
		return c.array()
	case b == '"':
		_, err := c.string()
		return err
	case b == 't':
		return c.literal("true")
	case b == 'f':
		return c.literal("false")
	case b == 'n':
		return c.literal("null")
	case b == '-' || isDigit(b):
		return c.number()
	case c.pos >= len(c.in):
		return c.fail("unexpected end of input")
	default:
		return c.fail("unexpected character")
	}
}

func (c *canonicaliser) literal(word string) error {
	if !bytes.HasPrefix(c.in[c.pos:], []byte(word)) {
		return c.fail("invalid literal")
	}
	c.pos += len(word)
	c.out = append(c.out, word...)
	return nil
}

func (c *canonicaliser) enter() error {
	c.depth++
	if c.depth > maxJSONNesting {
		return c.fail("nesting too deep")
	}
	return nil
}

func (c *canonicaliser) array() error {
	if err := c.enter(); err != nil {
		return err
	}
	c.childScope = scopeOther // objects in arrays are never filtered
	c.pos++
	c.out = append(c.out, '[')
	c.skipSpace()
	if c.peek() == ']' {
		c.pos++
		c.out = append(c.out, ']')
		c.depth--
		return nil
	}
	for {
		if err := c.value(); err != nil {
			return err
		}
		c.skipSpace()
		switch c.peek() {
		case ',':
			c.pos++
			c.out = append(c.out, ',')
		case ']':
			c.pos++
			c.out = append(c.out, ']')
			c.depth--
			return nil
		default:
			return c.fail("expected ',' or ']' in array")
		}
	}
}

func (c *canonicaliser) object() error {
	if err := c.enter(); err != nil {
		return err
	}
	scope := c.childScope
	c.childScope = scopeOther
	if c.depth == 1 {
		scope = scopeTop
	}
	c.pos++
	c.out = append(c.out, '{')
	bodyStart := len(c.out)
	base := len(c.members)
	c.skipSpace()
	if c.peek() == '}' {
		c.pos++
	} else if err := c.readMembers(bodyStart, scope); err != nil {
		return err
	}
	if scope == scopeTop && c.opts.redaction.active {
		c.addContentIfMissing(base, bodyStart)
	}
	err := c.sortMembers(base, bodyStart)
	c.members = c.members[:base]
	c.out = append(c.out, '}')
	c.depth--
	return err
}

func (c *canonicaliser) readMembers(bodyStart int, scope objectScope) error {
	for {
		if err := c.member(bodyStart, scope); err != nil {
			return err
		}
		c.skipSpace()
		switch c.peek() {
		case ',':
			c.pos++
		case '}':
			c.pos++
			return nil
		default:
			return c.fail("expected ',' or '}' in object")
		}
	}
}

// member reads one "key": value pair and writes it, preceded by a comma
// unless it is the first written pair of its object. A pair the key
// filters drop is still read in full (so it is validated) and then cut
// from the output; its key is kept for the duplicate check.
func (c *canonicaliser) member(bodyStart int, scope objectScope) error {
	c.skipSpace()
	if c.peek() != '"' {
		return c.fail("expected a string key")
	}
	commaAt := len(c.out)
	if commaAt > bodyStart {
		c.out = append(c.out, ',')
	}
	m := member{start: len(c.out), keyStart: len(c.out) + 1}
	escaped, err := c.string()
	if err != nil {
		return err
	}
	m.keyEnd = len(c.out) - 1
	if escaped {
		c.moveKeyToArena(&m, true)
	}
	m.skipped = scope != scopeOther && c.dropsKey(scope, c.key(&m))
	if m.skipped && !m.keyInArena { // the written key is about to be cut
		c.moveKeyToArena(&m, false)
	}
	c.skipSpace()
	if c.peek() != ':' {
		return c.fail("expected ':' after object key")
	}
	c.pos++
	c.out = append(c.out, ':')
	valueStart := len(c.out)
	if !m.skipped {
		c.childScope = c.scopeUnder(scope, c.key(&m))
	}
	err = c.value()
	c.childScope = scopeOther
	if err != nil {
		return err
	}
	if scope != scopeOther && !m.skipped {
		m.skipped = c.redactValue(scope, c.key(&m), valueStart)
	}
	m.end = len(c.out)
	if m.skipped {
		c.out = c.out[:commaAt]
	}
	c.members = append(c.members, m)
	return nil
}

// moveKeyToArena copies a member's key from the output to the arena,
// decoding it first if it was written with escapes.
func (c *canonicaliser) moveKeyToArena(m *member, unescape bool) {
	start := len(c.keyArena)
	if unescape {
		c.keyArena = appendUnescapedCanonical(c.keyArena, c.out[m.keyStart:m.keyEnd])
	} else {
		c.keyArena = append(c.keyArena, c.out[m.keyStart:m.keyEnd]...)
	}
	m.keyStart, m.keyEnd, m.keyInArena = start, len(c.keyArena), true
}

// key returns a member's decoded key. Code point order equals byte order
// of UTF-8, so keys compare with bytes.Compare.
func (c *canonicaliser) key(m *member) []byte {
	if m.keyInArena {
		return c.keyArena[m.keyStart:m.keyEnd]
	}
	return c.out[m.keyStart:m.keyEnd]
}

// sortMembers puts the members of the object whose body starts at
// bodyStart (c.members[base:]) in key order, rejecting duplicate keys.
// Objects usually arrive sorted (other servers send canonical JSON), so
// that case costs one comparison per member and no copying.
func (c *canonicaliser) sortMembers(base, bodyStart int) error {
	ms := c.members[base:]
	sorted := true
	for i := 1; i < len(ms); i++ {
		switch bytes.Compare(c.key(&ms[i-1]), c.key(&ms[i])) {
		case 0:
			return c.duplicateKey(&ms[i])
		case 1:
			sorted = false
		}
	}
	if sorted {
		return nil
	}
	slices.SortFunc(ms, func(a, b member) int { return bytes.Compare(c.key(&a), c.key(&b)) })
	for i := 1; i < len(ms); i++ {
		if bytes.Equal(c.key(&ms[i-1]), c.key(&ms[i])) {
			return c.duplicateKey(&ms[i])
		}
	}
	c.scratch = append(c.scratch[:0], c.out[bodyStart:]...)
	c.out = c.out[:bodyStart]
	written := 0
	for i := range ms {
		if ms[i].skipped {
			continue
		}
		if written > 0 {
			c.out = append(c.out, ',')
		}
		c.out = append(c.out, c.scratch[ms[i].start-bodyStart:ms[i].end-bodyStart]...)
		written++
	}
	return nil
}

func (c *canonicaliser) duplicateKey(m *member) error {
	return c.fail(fmt.Sprintf("duplicate object key %q", c.key(m)))
}

// plainStringByte marks the bytes a string can carry through unchanged:
// printable ASCII other than the quote and backslash.
var plainStringByte = func() (t [256]bool) {
	for b := 0x20; b < 0x80; b++ {
		t[b] = b != '"' && b != '\\'
	}
	return t
}()

// string reads a JSON string and writes its canonical form. It reports
// whether the canonical form contains escapes, i.e. differs from the
// decoded text between the quotes.
func (c *canonicaliser) string() (escaped bool, err error) {
	c.pos++
	c.out = append(c.out, '"')
	for {
		c.copyPlainRun()
		if c.pos >= len(c.in) {
			return false, c.fail("unterminated string")
		}
		switch b := c.in[c.pos]; {
		case b == '"':
			c.pos++
			c.out = append(c.out, '"')
			return escaped, nil
		case b == '\\':
			e, err := c.escape()
			if err != nil {
				return false, err
			}
			escaped = escaped || e
		case b < 0x20:
			return false, c.fail("unescaped control character in string")
		default:
			return false, c.fail("invalid UTF-8 in string")
		}
	}
}

// copyPlainRun copies string content up to the next quote, backslash or
// invalid byte: printable ASCII and valid UTF-8 pass through unchanged.
// It works on locals because storing into c on every byte costs a GC
// write barrier.
func (c *canonicaliser) copyPlainRun() {
	in, pos, out := c.in, c.pos, c.out
	for pos < len(in) {
		start := pos
		for pos < len(in) && plainStringByte[in[pos]] {
			pos++
		}
		out = append(out, in[start:pos]...)
		if pos >= len(in) || in[pos] < utf8.RuneSelf {
			break
		}
		r, size := utf8.DecodeRune(in[pos:])
		if r == utf8.RuneError && size <= 1 {
			break
		}
		out = append(out, in[pos:pos+size]...)
		pos += size
	}
	c.pos, c.out = pos, out
}

// escape decodes one backslash escape and writes the character in canonical
// form, reporting whether that form is itself an escape.
func (c *canonicaliser) escape() (bool, error) {
	c.pos++
	if c.pos >= len(c.in) {
		return false, c.fail("unterminated escape")
	}
	var r rune
	switch ch := c.in[c.pos]; ch {
	case '"', '\\', '/':
		r = rune(ch)
	case 'b':
		r = '\b'
	case 'f':
		r = '\f'
	case 'n':
		r = '\n'
	case 'r':
		r = '\r'
	case 't':
		r = '\t'
	case 'u':
		return c.unicodeEscape()
	default:
		return false, c.fail("invalid escape")
	}
	c.pos++
	return appendCanonicalRune(&c.out, r), nil
}

// unicodeEscape decodes \uXXXX, joining a surrogate pair into one
// character; a surrogate without its partner has no UTF-8 form.
func (c *canonicaliser) unicodeEscape() (bool, error) {
	r, ok := hex4(c.in, c.pos+1)
	if !ok {
		return false, c.fail("invalid \\u escape")
	}
	c.pos += 5
	switch {
	case r >= 0xDC00 && r <= 0xDFFF:
		return false, c.fail("lone low surrogate")
	case r >= 0xD800 && r <= 0xDBFF:
		if !bytes.HasPrefix(c.in[c.pos:], []byte(`\u`)) {
			return false, c.fail("lone high surrogate")
		}
		low, ok := hex4(c.in, c.pos+2)
		if !ok || low < 0xDC00 || low > 0xDFFF {
			return false, c.fail("lone high surrogate")
		}
		c.pos += 6
		r = 0x10000 + (r-0xD800)<<10 + (low - 0xDC00)
	}
	return appendCanonicalRune(&c.out, r), nil
}

// hex4 parses the four hex digits at in[at:].
func hex4(in []byte, at int) (rune, bool) {
	if at+4 > len(in) {
		return 0, false
	}
	var r rune
	for _, b := range in[at : at+4] {
		var v byte
		switch {
		case b >= '0' && b <= '9':
			v = b - '0'
		case b >= 'a' && b <= 'f':
			v = b - 'a' + 10
		case b >= 'A' && b <= 'F':
			v = b - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(v)
	}
	return r, true
}

// appendCanonicalRune writes r as canonical JSON string content and
// reports whether it had to be escaped.
func appendCanonicalRune(out *[]byte, r rune) bool {
	const hexDigits = "0123456789abcdef"
	switch r {
	case '"', '\\':
		*out = append(*out, '\\', byte(r))
	case '\b':
		*out = append(*out, '\\', 'b')
	case '\f':
		*out = append(*out, '\\', 'f')
	case '\n':
		*out = append(*out, '\\', 'n')
	case '\r':
		*out = append(*out, '\\', 'r')
	case '\t':
		*out = append(*out, '\\', 't')
	default:
		if r >= 0x20 {
			*out = utf8.AppendRune(*out, r)
			return false
		}
		*out = append(*out, '\\', 'u', '0', '0', hexDigits[r>>4], hexDigits[r&0xF])
	}
	return true
}

// AppendJSONString appends s as a JSON string the way canonical JSON
// writes one: only '"', '\\' and control characters escaped, everything
// else as UTF-8; bytes that are not UTF-8 become U+FFFD, so the output is
// valid JSON whatever s holds. It is the one string writer for JSON that
// Warbler encodes by hand (hot paths that skip encoding/json's reflection).
func AppendJSONString(out []byte, s string) []byte {
	out = append(out, '"')
	start := 0 // s[start:i] is copied as it is
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
			out = append(append(out, s[start:i]...), "\ufffd"...)
			i++
			start = i
			continue
		}
		out = append(out, s[start:i]...)
		appendCanonicalRune(&out, rune(c))
		i++
		start = i
	}
	return append(append(out, s[start:]...), '"')
}

// appendUnescapedCanonical decodes the escapes canonical JSON uses, for
// keys that needed them; it only sees output of appendCanonicalRune.
func appendUnescapedCanonical(out, s []byte) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			out = append(out, s[i])
			continue
		}
		i++
		switch s[i] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, _ := hex4(s, i+1)
			out = append(out, byte(r))
			i += 4
		default: // '"' or '\\'
			out = append(out, s[i])
		}
	}
	return out
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }
