package mxcore

import (
	"bytes"
	"math"
	"strconv"
)

// Numbers in canonical JSON: integers in [-(2^53)+1, 2^53-1] written as
// plain digits. Older room versions hold other numbers, which the lax
// mode writes the way the servers of the time did.

// maxSafeInteger is 2^53-1, the largest integer canonical JSON allows.
const maxSafeInteger = 1<<53 - 1

// maxSafeIntegerDigits is maxSafeInteger in decimal, for comparing digit
// strings without parsing them.
const maxSafeIntegerDigits = "9007199254740991"

// numberToken is a JSON number split into its grammar parts.
type numberToken struct {
	text      []byte // the whole token as written
	negative  bool
	intDigits []byte
	frac      []byte // digits after '.', if any
	hasExp    bool
	exp       int64 // clamped to ±maxExponent
}

// maxExponent clamps exponents so they cannot overflow. No input has 2^40
// digits, so a clamped exponent still decides whether a number is an
// integer and in range exactly as the real one would.
const maxExponent = 1 << 40

func (c *canonicaliser) number() error {
	tok, err := c.scanNumber()
	if err != nil {
		return err
	}
	if len(tok.frac) == 0 && !tok.hasExp {
		return c.plainInteger(tok)
	}
	if c.opts.plainIntegers {
		return c.fail("number must be an integer without fraction or exponent")
	}
	return c.decimalNumber(tok)
}

func (c *canonicaliser) scanNumber() (numberToken, error) {
	start := c.pos
	var tok numberToken
	if c.peek() == '-' {
		tok.negative = true
		c.pos++
	}
	intStart := c.pos
	switch {
	case c.peek() == '0':
		c.pos++
	case isDigit(c.peek()):
		c.skipDigits()
	default:
		return tok, c.fail("invalid number")
	}
	tok.intDigits = c.in[intStart:c.pos]
	if c.peek() == '.' {
		c.pos++
		fracStart := c.pos
		if c.skipDigits() == 0 {
			return tok, c.fail("invalid number: no digits after '.'")
		}
		tok.frac = c.in[fracStart:c.pos]
	}
	if b := c.peek(); b == 'e' || b == 'E' {
		c.pos++
		tok.hasExp = true
		exp, err := c.scanExponent()
		if err != nil {
			return tok, err
		}
		tok.exp = exp
	}
	tok.text = c.in[start:c.pos]
	return tok, nil
}

func (c *canonicaliser) skipDigits() int {
	start := c.pos
	for isDigit(c.peek()) {
		c.pos++
	}
	return c.pos - start
}

func (c *canonicaliser) scanExponent() (int64, error) {
	negative := false
	switch c.peek() {
	case '-':
		negative = true
		c.pos++
	case '+':
		c.pos++
	}
	if !isDigit(c.peek()) {
		return 0, c.fail("invalid number: no digits in exponent")
	}
	var exp int64
	for isDigit(c.peek()) {
		if exp < maxExponent {
			exp = exp*10 + int64(c.peek()-'0')
		}
		c.pos++
	}
	if negative {
		exp = -exp
	}
	return exp, nil
}

// plainInteger writes an integer written without fraction or exponent.
func (c *canonicaliser) plainInteger(tok numberToken) error {
	digits := tok.intDigits
	switch {
	case len(digits) == 1 && digits[0] == '0': // also turns -0 into 0
		c.out = append(c.out, '0')
	case inSafeRange(digits):
		c.out = append(c.out, tok.text...)
	case c.opts.lax: // big integers of old rooms: keep every digit
		c.out = append(c.out, tok.text...)
	default:
		return c.fail("integer out of the range [-(2^53)+1, 2^53-1]")
	}
	return nil
}

// inSafeRange reports whether a digit string without leading zeros is at
// most 2^53-1.
func inSafeRange(digits []byte) bool {
	n := len(maxSafeIntegerDigits)
	return len(digits) < n || len(digits) == n && string(digits) <= maxSafeIntegerDigits
}

// decimalNumber writes a number written with a fraction or exponent: as
// an integer when its exact value is one in range, otherwise (lax only) as
// Python writes the float it parses to.
func (c *canonicaliser) decimalNumber(tok numberToken) error {
	if digits, ok := c.exactInteger(tok); ok {
		if len(digits) == 0 {
			c.out = append(c.out, '0')
			return nil
		}
		if inSafeRange(digits) {
			if tok.negative {
				c.out = append(c.out, '-')
			}
			c.out = append(c.out, digits...)
			return nil
		}
	}
	if !c.opts.lax {
		return c.fail("number is not an integer in the range [-(2^53)+1, 2^53-1]")
	}
	return c.laxFloat(tok)
}

// exactInteger returns the decimal digits of the token's exact value when
// that value is an integer of at most 16 digits (no digits: zero).
func (c *canonicaliser) exactInteger(tok numberToken) ([]byte, bool) {
	digits := append(append(c.digits[:0], tok.intDigits...), tok.frac...)
	c.digits = digits
	exp := tok.exp - int64(len(tok.frac))
	for len(digits) > 0 && digits[0] == '0' {
		digits = digits[1:]
	}
	for len(digits) > 0 && digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
		exp++
	}
	if len(digits) == 0 {
		return nil, true
	}
	if exp < 0 || int64(len(digits))+exp > int64(len(maxSafeIntegerDigits)) {
		return nil, false
	}
	for ; exp > 0; exp-- {
		digits = append(digits, '0')
	}
	return digits, true
}

// laxFloat writes a non-canonical number of an old room version.
func (c *canonicaliser) laxFloat(tok numberToken) error {
	f, err := strconv.ParseFloat(string(tok.text), 64)
	if err != nil || math.IsInf(f, 0) {
		return c.fail("number too large")
	}
	if f == math.Trunc(f) && math.Abs(f) <= maxSafeInteger {
		c.out = strconv.AppendInt(c.out, int64(f), 10)
		return nil
	}
	c.out = appendPythonFloat(c.out, f)
	return nil
}

// appendPythonFloat writes f as Python's repr() does: the shortest digits
// that round-trip, positional when the decimal exponent is in [-4, 16),
// otherwise scientific with a signed exponent of at least two digits.
func appendPythonFloat(out []byte, f float64) []byte {
	var buf [32]byte
	sci := strconv.AppendFloat(buf[:0], f, 'e', -1, 64) // e.g. -1.2345e+17
	if sci[0] == '-' {
		out = append(out, '-')
		sci = sci[1:]
	}
	ePos := bytes.IndexByte(sci, 'e')
	exp, _ := strconv.Atoi(string(sci[ePos+1:]))
	digits := append([]byte{sci[0]}, bytes.TrimPrefix(sci[1:ePos], []byte("."))...)
	if exp >= -4 && exp < 16 {
		return appendPositional(out, digits, exp)
	}
	out = append(out, digits[0])
	if len(digits) > 1 {
		out = append(out, '.')
		out = append(out, digits[1:]...)
	}
	out = append(out, 'e')
	if exp < 0 {
		out = append(out, '-')
		exp = -exp
	} else {
		out = append(out, '+')
	}
	if exp < 10 {
		out = append(out, '0')
	}
	return strconv.AppendInt(out, int64(exp), 10)
}

// appendPositional writes digits d.ddd×10^exp without an exponent, always
// with a fractional part (Python writes 1e15 as 1000000000000000.0).
func appendPositional(out, digits []byte, exp int) []byte {
	if exp < 0 {
		out = append(out, '0', '.')
		for i := -1; i > exp; i-- {
			out = append(out, '0')
		}
		return append(out, digits...)
	}
	intLen := exp + 1
	for i := 0; i < intLen; i++ {
		if i < len(digits) {
			out = append(out, digits[i])
		} else {
			out = append(out, '0')
		}
	}
	out = append(out, '.')
	if len(digits) > intLen {
		return append(out, digits[intLen:]...)
	}
	return append(out, '0')
}
