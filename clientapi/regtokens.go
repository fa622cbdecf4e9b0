package clientapi

import (
	"crypto/rand"
	"errors"
	"math/big"
	"net/http"
	"strings"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

const (
	// maxRegistrationTokenLen is the spec's limit for registration tokens.
	maxRegistrationTokenLen = 64
	// opaqueIDChars is the spec's opaque identifier alphabet.
	opaqueIDChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-"
	// generatedTokenChars are the characters generated tokens use: letters
	// and digits, easy to read out and to paste.
	generatedTokenChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
)

// ValidRegistrationToken reports whether s has the form the spec gives
// registration tokens: 1 to 64 characters of the opaque identifier grammar.
func ValidRegistrationToken(s string) bool {
	if s == "" || len(s) > maxRegistrationTokenLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isOpaqueIDChar(s[i]) {
			return false
		}
	}
	return true
}

func isOpaqueIDChar(b byte) bool { return strings.IndexByte(opaqueIDChars, b) >= 0 }

// NewRegistrationToken returns a random token of n letters and digits.
func NewRegistrationToken(n int) string {
	out := make([]byte, n)
	limit := big.NewInt(int64(len(generatedTokenChars)))
	for i := range out {
		k, _ := rand.Int(rand.Reader, limit) // never fails since Go 1.24
		out[i] = generatedTokenChars[k.Int64()]
	}
	return string(out)
}

// RegistrationTokenUsable reports whether t can still admit a sign-up at
// nowTS: not expired, and with uses left counting those in progress.
func RegistrationTokenUsable(t storage.RegistrationToken, nowTS int64) bool {
	if t.ExpiryTS != 0 && t.ExpiryTS <= nowTS {
		return false
	}
	return t.UsesAllowed == nil || t.Pending+t.Completed < *t.UsesAllowed
}

// registrationTokenValidity answers whether a token would be accepted now.
// It is rate limited by its route: tokens are secrets worth guessing.
func (a *API) registrationTokenValidity(r *http.Request) (any, error) {
	if !a.Registration.Enabled {
		return nil, mxcore.Forbidden("Registration is not enabled on this homeserver")
	}
	token := r.URL.Query().Get("token")
	if token == "" {
		return nil, mxcore.MissingParam("Missing token")
	}
	valid := false
	if ValidRegistrationToken(token) {
		t, err := a.Store.GetRegistrationToken(r.Context(), token)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return nil, err
		}
		valid = err == nil && RegistrationTokenUsable(t, a.now().UnixMilli())
	}
	return map[string]bool{"valid": valid}, nil
}
