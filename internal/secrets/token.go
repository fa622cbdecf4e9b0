package secrets

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
)

// tokenBytes of randomness make a token unguessable (256 bits).
const tokenBytes = 32

// NewToken returns a fresh random token with the given prefix, e.g. "wat_"
// for access tokens, so leaked tokens are easy to recognise in scanners.
func NewToken(prefix string) (string, error) {
	raw := make([]byte, tokenBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	return prefix + base64.RawURLEncoding.EncodeToString(raw), nil
}

// HashToken is what storage keeps instead of a token. A plain SHA-256 is
// right here, unlike for passwords: tokens carry 256 bits of entropy, so no
// dictionary or brute force applies, and lookups by hash are a single
// indexed equality match rather than a comparison of secrets.
func HashToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// NewDeviceID returns a random device ID of ten upper-case letters, the
// shape clients expect.
func NewDeviceID() (string, error) {
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	raw := make([]byte, 10)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	for i, b := range raw {
		raw[i] = letters[int(b)%len(letters)]
	}
	return string(raw), nil
}
