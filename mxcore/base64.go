package mxcore

import (
	"encoding/base64"
	"errors"
	"strings"
)

// Matrix writes binary values (hashes, keys, signatures) as unpadded
// base64 (spec appendix "Unpadded Base64"); event IDs of room versions 4+
// and room IDs of version 12 use the URL-safe alphabet. The spec asks
// decoders to accept padding too, for interoperability.

// EncodeBase64 encodes b as unpadded standard base64.
func EncodeBase64(b []byte) string { return base64.RawStdEncoding.EncodeToString(b) }

// EncodeBase64URL encodes b as unpadded URL-safe base64.
func EncodeBase64URL(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// DecodeBase64 decodes standard base64, padded or unpadded.
func DecodeBase64(s string) ([]byte, error) { return decodeBase64(base64.RawStdEncoding, s) }

// DecodeBase64URL decodes URL-safe base64, padded or unpadded.
func DecodeBase64URL(s string) ([]byte, error) { return decodeBase64(base64.RawURLEncoding, s) }

var errBadBase64 = errors.New("invalid base64")

func decodeBase64(enc *base64.Encoding, s string) ([]byte, error) {
	unpadded, ok := stripBase64Padding(s)
	// encoding/base64 silently skips line breaks; a value with them is not
	// what the spec describes, so refuse it rather than guess.
	if !ok || strings.ContainsAny(unpadded, "\r\n") {
		return nil, errBadBase64
	}
	b, err := enc.DecodeString(unpadded)
	if err != nil {
		return nil, errBadBase64
	}
	return b, nil
}

// stripBase64Padding removes trailing '=' padding, which must be exactly
// what a padded encoder would have written if present at all.
func stripBase64Padding(s string) (string, bool) {
	unpadded := strings.TrimRight(s, "=")
	pads := len(s) - len(unpadded)
	if pads == 0 {
		return s, true
	}
	return unpadded, pads <= 2 && len(s)%4 == 0
}
