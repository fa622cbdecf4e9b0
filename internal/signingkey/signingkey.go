package signingkey

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Key is the server's signing key.
type Key struct {
	ID      string // "ed25519:<version>"
	Private ed25519.PrivateKey
}

// Public returns the verify key.
func (k Key) Public() ed25519.PublicKey { return k.Private.Public().(ed25519.PublicKey) }

// versionPattern is the key version grammar: the spec allows [a-zA-Z0-9_].
var versionPattern = regexp.MustCompile(`^[a-zA-Z0-9_]{1,64}$`)

// Generate makes a new key with a random version such as "a_Xk3q".
func Generate() (Key, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return Key{}, err
	}
	version, err := randomVersion()
	if err != nil {
		return Key{}, err
	}
	return Key{ID: "ed25519:" + version, Private: priv}, nil
}

func randomVersion() (string, error) {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	raw := make([]byte, 6)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	for i, b := range raw {
		raw[i] = alphabet[int(b)%len(alphabet)]
	}
	return "a_" + string(raw), nil
}

// Encode renders the key file's line.
func Encode(k Key) string {
	version := strings.TrimPrefix(k.ID, "ed25519:")
	return fmt.Sprintf("ed25519 %s %s\n", version, base64.RawStdEncoding.EncodeToString(k.Private.Seed()))
}

// Parse reads a key file's content.
func Parse(content string) (Key, error) {
	fields := strings.Fields(content)
	if len(fields) != 3 || fields[0] != "ed25519" {
		return Key{}, errors.New(`signing key file must hold "ed25519 <version> <base64 seed>"`)
	}
	if !versionPattern.MatchString(fields[1]) {
		return Key{}, fmt.Errorf("signing key version %q is not [a-zA-Z0-9_]", fields[1])
	}
	seed, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(fields[2], "="))
	if err != nil || len(seed) != ed25519.SeedSize {
		return Key{}, errors.New("signing key seed is not 32 bytes of base64")
	}
	return Key{ID: "ed25519:" + fields[1], Private: ed25519.NewKeyFromSeed(seed)}, nil
}

// Load reads the key file at path.
func Load(path string) (Key, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Key{}, err
	}
	key, err := Parse(string(raw))
	if err != nil {
		return Key{}, fmt.Errorf("%s: %w", path, err)
	}
	return key, nil
}

// Write stores k at path with owner-only permissions, atomically, so a crash
// never leaves a half-written key. It refuses to replace an existing file
// unless replace is set.
func Write(path string, k Key, replace bool) error {
	if !replace {
		if _, err := os.Stat(path); err == nil {
			return fmt.Errorf("%s already exists", path)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".signing-key-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(Encode(k)); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// LoadOrCreate loads the key at path, generating and writing one first if
// the file does not exist. created tells whether it did.
func LoadOrCreate(path string) (k Key, created bool, err error) {
	k, err = Load(path)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return k, false, err
	}
	if k, err = Generate(); err != nil {
		return Key{}, false, err
	}
	if err = Write(path, k, false); err != nil {
		return Key{}, false, err
	}
	return k, true, nil
}
