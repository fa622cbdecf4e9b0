package secrets

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"github.com/warbler-im/warbler/internal/cpus"
)

// Argon2id parameters: the OWASP-recommended minimum (19 MiB, 2 passes, one
// lane). Memory per hash is bounded so that many concurrent logins cannot
// exhaust the server.
const (
	argonMemoryKiB = 19 * 1024
	argonTime      = 2
	argonThreads   = 1
	argonKeyLen    = 32
	argonSaltLen   = 16
)

// argonSlots bounds the argon2id computations that run at once to half
// the CPUs. Each holds argonMemoryKiB and keeps a CPU busy for tens of
// milliseconds: 16 registrations in flight held ~300 MiB in warbler
// bench, and on a small server hashes on every CPU stall the requests
// that are not logins (sends, syncs) behind them. Callers beyond the
// bound wait their turn.
var argonSlots = make(chan struct{}, max(1, cpus.N/2))

// argonKey is argon2.IDKey, run in one of argonSlots.
func argonKey(password, salt []byte, passes, memoryKiB uint32, threads uint8, keyLen uint32) []byte {
	argonSlots <- struct{}{}
	defer func() { <-argonSlots }()
	return argon2.IDKey(password, salt, passes, memoryKiB, threads, keyLen)
}

// MaxPasswordBytes bounds the work an attacker can make one hash cost.
const MaxPasswordBytes = 512

// ErrPasswordTooLong rejects passwords beyond MaxPasswordBytes.
var ErrPasswordTooLong = errors.New("password is too long")

// HashPassword returns a PHC-format argon2id hash of password.
func HashPassword(password string) (string, error) {
	if len(password) > MaxPasswordBytes {
		return "", ErrPasswordTooLong
	}
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argonKey([]byte(password), salt, argonTime, argonMemoryKiB, argonThreads, argonKeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		argonMemoryKiB, argonTime, argonThreads, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// CheckPassword reports whether password matches hash. It accepts the
// argon2id hashes this package makes and bcrypt hashes ($2a$, $2b$, $2y$)
// from accounts imported from other homeservers. An empty hash never matches.
func CheckPassword(hash, password string) bool {
	if len(password) > MaxPasswordBytes {
		return false
	}
	switch {
	case strings.HasPrefix(hash, "$argon2id$"):
		return checkArgon2id(hash, password)
	case strings.HasPrefix(hash, "$2a$"), strings.HasPrefix(hash, "$2b$"), strings.HasPrefix(hash, "$2y$"):
		return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
	default:
		return false
	}
}

func checkArgon2id(hash, password string) bool {
	parts := strings.Split(hash, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	if len(parts) != 6 {
		return false
	}
	var version int
	var memory, passes uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &memory, &passes, &threads); err != nil {
		return false
	}
	// Refuse parameters that would make one check unreasonably costly.
	if memory == 0 || memory > 256*1024 || passes == 0 || passes > 16 || threads == 0 {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 || len(want) > 128 {
		return false
	}
	got := argonKey([]byte(password), salt, passes, memory, threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}
