package roomserver

import (
	"crypto/ed25519"
	"encoding/base64"
	"sort"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// Rule 5.3.1.7 (v6–7: 4.3.1.7, v8–11: 4.4.1.7, v12: 5.4.1.7): an invite
// redeeming a third-party invite is allowed if any signature in
// content.third_party_invite.signed verifies with any public key of the
// m.room.third_party_invite event. The keys travel in the room state, so
// this is pure: canonical JSON plus ed25519.
//
// The canonical encoder below is the minimum this check needs; once mxcore
// exports its canonical JSON, this should call that instead.

// signedByInviteKey reports whether signed carries an ed25519 signature, by
// any entity, that verifies with one of the invite's public keys.
func signedByInviteKey(signed, invite gjson.Result) bool {
	keys := invitePublicKeys(invite)
	if len(keys) == 0 {
		return false
	}
	msg, ok := appendCanonicalObject(nil, signed, func(k string) bool { return k == "signatures" || k == "unsigned" })
	if !ok {
		return false
	}
	found := false
	forEachSignature(authField(signed, "signatures"), func(sig []byte) bool {
		for _, k := range keys {
			if ed25519.Verify(k, msg, sig) {
				found = true
			}
		}
		return !found
	})
	return found
}

// invitePublicKeys collects public_key and public_keys[].public_key,
// skipping any that are not 32-byte ed25519 keys.
func invitePublicKeys(invite gjson.Result) []ed25519.PublicKey {
	var keys []ed25519.PublicKey
	add := func(v gjson.Result) {
		if b, ok := authDecodeBase64(v); ok && len(b) == ed25519.PublicKeySize {
			keys = append(keys, ed25519.PublicKey(b))
		}
	}
	add(authField(invite, "public_key"))
	if list := authField(invite, "public_keys"); list.IsArray() {
		for _, entry := range list.Array() {
			add(authField(entry, "public_key"))
		}
	}
	return keys
}

// forEachSignature calls fn with every decodable ed25519 signature in a
// signatures object ({entity: {"ed25519:id": base64}}) until fn says stop.
func forEachSignature(sigs gjson.Result, fn func(sig []byte) bool) {
	if !sigs.IsObject() {
		return
	}
	sigs.ForEach(func(_, byKey gjson.Result) bool {
		if !byKey.IsObject() {
			return true
		}
		more := true
		byKey.ForEach(func(keyID, v gjson.Result) bool {
			if !strings.HasPrefix(keyID.Str, "ed25519:") {
				return true
			}
			if sig, ok := authDecodeBase64(v); ok && len(sig) == ed25519.SignatureSize {
				more = fn(sig)
			}
			return more
		})
		return more
	})
}

// authDecodeBase64 accepts the standard or URL-safe alphabet, with or
// without padding, as the spec allows for third-party invite keys.
func authDecodeBase64(v gjson.Result) ([]byte, bool) {
	if v.Type != gjson.String {
		return nil, false
	}
	s := strings.TrimRight(v.Str, "=")
	if b, err := base64.RawStdEncoding.DecodeString(s); err == nil {
		return b, true
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	return b, err == nil
}

// appendCanonical appends v in canonical JSON: no insignificant space,
// object keys sorted by code point, integers only. It fails on values that
// have no canonical form (fractions, exponents, duplicate keys).
func appendCanonical(dst []byte, v gjson.Result) ([]byte, bool) {
	switch {
	case v.Type == gjson.Null:
		return append(dst, "null"...), true
	case v.Type == gjson.True:
		return append(dst, "true"...), true
	case v.Type == gjson.False:
		return append(dst, "false"...), true
	case v.Type == gjson.String:
		return appendCanonicalString(dst, v.Str), true
	case v.Type == gjson.Number:
		return appendCanonicalInt(dst, v.Raw)
	case v.IsArray():
		return appendCanonicalArray(dst, v)
	case v.IsObject():
		return appendCanonicalObject(dst, v, func(string) bool { return false })
	}
	return dst, false
}

func appendCanonicalInt(dst []byte, raw string) ([]byte, bool) {
	if !authIntLiteral(raw) {
		return dst, false
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return dst, false
	}
	return strconv.AppendInt(dst, n, 10), true
}

func appendCanonicalArray(dst []byte, v gjson.Result) ([]byte, bool) {
	dst = append(dst, '[')
	ok := true
	for i, el := range v.Array() {
		if i > 0 {
			dst = append(dst, ',')
		}
		if dst, ok = appendCanonical(dst, el); !ok {
			return dst, false
		}
	}
	return append(dst, ']'), true
}

// appendCanonicalObject encodes an object without the keys skip selects.
func appendCanonicalObject(dst []byte, v gjson.Result, skip func(string) bool) ([]byte, bool) {
	if !v.IsObject() {
		return dst, false
	}
	keys, vals := authObjectEntries(v)
	if n := authCountKeys(v); n != len(keys) {
		return dst, false // duplicate keys have no single canonical form
	}
	sort.Strings(keys) // byte order of UTF-8 is code point order
	dst = append(dst, '{')
	first, ok := true, true
	for _, k := range keys {
		if skip(k) {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(appendCanonicalString(dst, k), ':')
		if dst, ok = appendCanonical(dst, vals[k]); !ok {
			return dst, false
		}
	}
	return append(dst, '}'), true
}

func authCountKeys(v gjson.Result) int {
	n := 0
	v.ForEach(func(_, _ gjson.Result) bool { n++; return true })
	return n
}

// appendCanonicalString escapes only '"', '\\' and control characters,
// using the short escapes where JSON has them; everything else is raw UTF-8.
func appendCanonicalString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\b':
			dst = append(dst, '\\', 'b')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\f':
			dst = append(dst, '\\', 'f')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}
