package federation

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/warbler-im/warbler/mxcore"
)

// XMatrix holds the parameters of an "Authorization: X-Matrix" header, the
// signature with which one server authenticates a request to another.
type XMatrix struct {
	Origin      string
	Destination string // "" when an older sender left it out
	KeyID       string
	Signature   string // unpadded base64
}

var (
	errNotXMatrix       = errors.New("not an X-Matrix authorization")
	errMalformedXMatrix = errors.New("malformed X-Matrix authorization")
)

// String renders the header value the way the spec asks senders to, for
// the sake of older receivers: one space after the scheme, lower-case
// names, every value quoted, no spaces around the commas.
func (x XMatrix) String() string {
	var b strings.Builder
	b.WriteString("X-Matrix ")
	writeParam(&b, "origin", x.Origin)
	b.WriteByte(',')
	writeParam(&b, "destination", x.Destination)
	b.WriteByte(',')
	writeParam(&b, "key", x.KeyID)
	b.WriteByte(',')
	writeParam(&b, "sig", x.Signature)
	return b.String()
}

func writeParam(b *strings.Builder, name, value string) {
	b.WriteString(name)
	b.WriteString(`="`)
	for i := 0; i < len(value); i++ {
		if value[i] == '"' || value[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(value[i])
	}
	b.WriteByte('"')
}

// ParseXMatrix reads an Authorization header value. Following RFC 9110
// auth-params: the scheme is case-insensitive, names are case-insensitive
// and unordered, values are tokens or quoted strings with backslash
// escapes, and whitespace may surround commas and '='. Colons are accepted
// in unquoted values, as older senders write them. Unknown parameters are
// ignored; a repeated one makes the header ambiguous and is refused.
func ParseXMatrix(header string) (XMatrix, error) {
	scheme, rest, _ := strings.Cut(header, " ")
	if !strings.EqualFold(scheme, "X-Matrix") {
		return XMatrix{}, errNotXMatrix
	}
	params, err := parseAuthParams(rest)
	if err != nil {
		return XMatrix{}, err
	}
	x := XMatrix{Origin: params["origin"], Destination: params["destination"], KeyID: params["key"], Signature: params["sig"]}
	if x.Origin == "" || x.KeyID == "" || x.Signature == "" {
		return XMatrix{}, fmt.Errorf("%w: origin, key and sig are required", errMalformedXMatrix)
	}
	return x, nil
}

// paramParser walks a comma-separated list of name=value pairs.
type paramParser struct {
	s   string
	pos int
}

func parseAuthParams(s string) (map[string]string, error) {
	p := paramParser{s: s}
	params := map[string]string{}
	for {
		p.skipSpace()
		if p.done() {
			return params, nil
		}
		if p.s[p.pos] == ',' { // empty list elements are allowed
			p.pos++
			continue
		}
		name, value, err := p.pair()
		if err != nil {
			return nil, err
		}
		if _, dup := params[name]; dup {
			return nil, fmt.Errorf("%w: %s given twice", errMalformedXMatrix, name)
		}
		params[name] = value
		if err := p.endOfElement(); err != nil {
			return nil, err
		}
	}
}

// pair reads name BWS "=" BWS value.
func (p *paramParser) pair() (name, value string, err error) {
	name = strings.ToLower(p.token(false))
	if name == "" {
		return "", "", fmt.Errorf("%w: parameter name expected at %d", errMalformedXMatrix, p.pos)
	}
	p.skipSpace()
	if p.done() || p.s[p.pos] != '=' {
		return "", "", fmt.Errorf("%w: '=' expected after %s", errMalformedXMatrix, name)
	}
	p.pos++
	p.skipSpace()
	if !p.done() && p.s[p.pos] == '"' {
		value, err = p.quoted()
	} else if value = p.token(true); value == "" {
		err = fmt.Errorf("%w: value of %s expected", errMalformedXMatrix, name)
	}
	return name, value, err
}

// endOfElement consumes the whitespace and comma after a pair.
func (p *paramParser) endOfElement() error {
	p.skipSpace()
	if p.done() {
		return nil
	}
	if p.s[p.pos] != ',' {
		return fmt.Errorf("%w: ',' expected at %d", errMalformedXMatrix, p.pos)
	}
	p.pos++
	return nil
}

func (p *paramParser) done() bool { return p.pos >= len(p.s) }

func (p *paramParser) skipSpace() {
	for !p.done() && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t') {
		p.pos++
	}
}

func (p *paramParser) token(allowColon bool) string {
	start := p.pos
	for !p.done() && (isTokenChar(p.s[p.pos]) || allowColon && p.s[p.pos] == ':') {
		p.pos++
	}
	return p.s[start:p.pos]
}

// quoted reads a quoted-string, unescaping backslash pairs.
func (p *paramParser) quoted() (string, error) {
	var b strings.Builder
	for p.pos++; !p.done(); p.pos++ {
		c := p.s[p.pos]
		switch {
		case c == '"':
			p.pos++
			return b.String(), nil
		case c == '\\' && p.pos+1 < len(p.s):
			p.pos++
			b.WriteByte(p.s[p.pos])
		case c == '\t' || c >= 0x20 && c != 0x7f:
			b.WriteByte(c)
		default:
			return "", fmt.Errorf("%w: control character in quoted value", errMalformedXMatrix)
		}
	}
	return "", fmt.Errorf("%w: unterminated quoted value", errMalformedXMatrix)
}

// isTokenChar reports whether c is a tchar of RFC 9110.
func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// requestSigningJSON is the canonical JSON a request signature covers:
// {method, uri, origin, destination, content}, content being the request
// body as JSON and absent when there is no body. The lax canonical form
// is used so a body carrying events of old room versions (which may hold
// floats) can still be signed and checked the way its sender did.
func requestSigningJSON(method, uri, origin, destination string, content []byte) ([]byte, error) {
	// Checked on its own so that a body such as `{},"uri":"/x"` cannot
	// splice members into the object around it.
	if len(content) > 0 && !json.Valid(content) {
		return nil, errors.New("request body is not JSON")
	}
	obj := make([]byte, 0, 96+len(uri)+len(origin)+len(destination)+len(content))
	obj = append(obj, '{')
	if len(content) > 0 {
		obj = append(obj, `"content":`...)
		obj = append(obj, content...)
		obj = append(obj, ',')
	}
	for i, field := range [...][2]string{{"destination", destination}, {"method", method}, {"origin", origin}, {"uri", uri}} {
		if i > 0 {
			obj = append(obj, ',')
		}
		obj = appendJSONField(obj, field[0], field[1])
	}
	obj = append(obj, '}')
	return mxcore.CanonicalJSONLax(obj)
}

func appendJSONField(dst []byte, name, value string) []byte {
	quoted, _ := json.Marshal(value) // a string always encodes
	dst = append(dst, '"')
	dst = append(dst, name...)
	dst = append(dst, `":`...)
	return append(dst, quoted...)
}

// SignRequest signs a request from origin to destination. uri is the
// request target as sent: path and query, e.g. "/_matrix/federation/v1/
// send/1?x=y". content is the JSON body, or nil for none.
func SignRequest(method, uri, origin, destination string, content []byte, keyID string, priv ed25519.PrivateKey) (XMatrix, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return XMatrix{}, errors.New("sign request: bad ed25519 private key")
	}
	canonical, err := requestSigningJSON(method, uri, origin, destination, content)
	if err != nil {
		return XMatrix{}, fmt.Errorf("sign request: %w", err)
	}
	sig := mxcore.EncodeBase64(ed25519.Sign(priv, canonical))
	return XMatrix{Origin: origin, Destination: destination, KeyID: keyID, Signature: sig}, nil
}

// VerifyRequest checks the signature in auth over a received request.
// ourName is this server's name, which the sender signed as destination
// even when the header does not carry one.
func VerifyRequest(method, uri string, content []byte, auth XMatrix, ourName string, pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize {
		return errors.New("verify request: bad ed25519 public key")
	}
	sig, err := mxcore.DecodeBase64(auth.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("%w: malformed request signature", mxcore.ErrSignatureInvalid)
	}
	canonical, err := requestSigningJSON(method, uri, auth.Origin, ourName, content)
	if err != nil {
		return fmt.Errorf("verify request: %w", err)
	}
	if !ed25519.Verify(pub, canonical, sig) {
		return fmt.Errorf("%w: request from %s with %s", mxcore.ErrSignatureInvalid, auth.Origin, auth.KeyID)
	}
	return nil
}
