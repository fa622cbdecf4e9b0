package mxcore

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"

	"github.com/tidwall/gjson"
)

// Signing JSON (spec appendix "Signing JSON"): the object without its
// "signatures" and "unsigned" members is encoded as canonical JSON and
// signed; the signature goes to signatures[server][keyID] in unpadded
// base64.

// signedJSONSkips are the members a signature does not cover.
var signedJSONSkips = []string{"signatures", "unsigned"}

// KeyAlgorithmEd25519 is the only signing algorithm the spec defines.
const KeyAlgorithmEd25519 = "ed25519"

// KeyID is a signing key identifier, "algorithm:version", e.g. "ed25519:abc".
type KeyID string

// ParseKeyID checks the form of a key ID: a known algorithm or any other
// non-empty one, then a version of [a-zA-Z0-9_] as the spec's key
// endpoints require.
func ParseKeyID(s string) (KeyID, error) {
	alg, version, ok := strings.Cut(s, ":")
	if !ok || alg == "" || version == "" {
		return "", fmt.Errorf("key ID %q: want algorithm:version", s)
	}
	for i := 0; i < len(version); i++ {
		b := version[i]
		if !isDigit(b) && !(b >= 'a' && b <= 'z') && !(b >= 'A' && b <= 'Z') && b != '_' {
			return "", fmt.Errorf("key ID %q: version may only hold a-z A-Z 0-9 _", s)
		}
	}
	return KeyID(s), nil
}

// Algorithm is the part before the colon, e.g. "ed25519".
func (k KeyID) Algorithm() string { alg, _, _ := strings.Cut(string(k), ":"); return alg }

// Version is the part after the colon, which tells one key of a server
// from its others.
func (k KeyID) Version() string { _, v, _ := strings.Cut(string(k), ":"); return v }

// Errors of signature checks, to tell a missing signature (perhaps fetch
// another key) from a wrong one (drop the data).
var (
	ErrSignatureMissing = errors.New("signature missing")
	ErrSignatureInvalid = errors.New("signature invalid")
)

// SignJSON signs a JSON object as serverName with the ed25519 key keyID.
// The signature is merged into any existing "signatures" (replacing only an
// older signature by the same server and key); "unsigned" is kept as is.
func SignJSON(obj []byte, serverName, keyID string, priv ed25519.PrivateKey) ([]byte, error) {
	return signJSON(obj, serverName, keyID, priv, canonOptions{})
}

// VerifyJSON checks serverName's signature by key keyID on a JSON object.
// It returns ErrSignatureMissing or ErrSignatureInvalid (wrapped) on
// failure.
func VerifyJSON(obj []byte, serverName, keyID string, pub ed25519.PublicKey) error {
	return verifyJSON(obj, serverName, keyID, pub, canonOptions{})
}

func signJSON(obj []byte, serverName, keyID string, priv ed25519.PrivateKey, opts canonOptions) ([]byte, error) {
	signature, err := signatureOf(obj, keyID, priv, opts)
	if err != nil {
		return nil, err
	}
	return addSignature(obj, serverName, keyID, signature)
}

// signatureOf signs obj without its signatures and unsigned members and
// returns the signature in unpadded base64.
func signatureOf(obj []byte, keyID string, priv ed25519.PrivateKey, opts canonOptions) (string, error) {
	if err := checkEd25519KeyID(keyID); err != nil {
		return "", err
	}
	if len(priv) != ed25519.PrivateKeySize {
		return "", errors.New("sign JSON: bad ed25519 private key size")
	}
	var signature []byte
	opts.skipTop = signedJSONSkips
	err := withCanonicalJSON(obj, opts, func(canonical []byte) error {
		if len(canonical) == 0 || canonical[0] != '{' {
			return errNotObject
		}
		signature = ed25519.Sign(priv, canonical)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("sign JSON: %w", err)
	}
	return EncodeBase64(signature), nil
}

// checkEd25519KeyID checks a key ID we sign with: the spec's grammar and
// the ed25519 algorithm.
func checkEd25519KeyID(keyID string) error {
	id, err := ParseKeyID(keyID)
	if err != nil {
		return err
	}
	if id.Algorithm() != KeyAlgorithmEd25519 {
		return fmt.Errorf("key ID %q: unsupported algorithm", keyID)
	}
	return nil
}

// checkVerifiableKeyID checks a key ID to verify with. Other servers'
// key versions are taken as they publish them, even outside the grammar
// (refusing them would only make their signatures unverifiable); only
// the algorithm must be ed25519.
func checkVerifiableKeyID(keyID string) error {
	alg, version, _ := strings.Cut(keyID, ":")
	if alg != KeyAlgorithmEd25519 || version == "" {
		return fmt.Errorf("key ID %q: not an ed25519 key", keyID)
	}
	return nil
}

// addSignature sets signatures[serverName][keyID] = signature in obj,
// keeping every other signature.
func addSignature(obj []byte, serverName, keyID, signature string) ([]byte, error) {
	root, _, err := parseObject(obj)
	if err != nil {
		return nil, err
	}
	all := field(root, "signatures")
	ours := field(all, serverName)
	if all.Exists() && !all.IsObject() || ours.Exists() && !ours.IsObject() {
		return nil, errors.New("sign JSON: signatures are not an object of objects")
	}
	serverSigs := copyMembersExcept(ours, keyID)
	serverSigs = appendRawMember(serverSigs, jsonString(keyID), jsonString(signature))
	signatures := copyMembersExcept(all, serverName)
	signatures = appendRawMember(signatures, jsonString(serverName), string(append(serverSigs, '}')))
	return setMember(obj, "signatures", append(signatures, '}'))
}

func verifyJSON(obj []byte, serverName, keyID string, pub ed25519.PublicKey, opts canonOptions) error {
	if len(pub) != ed25519.PublicKeySize {
		return errors.New("verify JSON: bad ed25519 public key size")
	}
	if err := checkVerifiableKeyID(keyID); err != nil {
		return err
	}
	signature, err := findSignature(obj, serverName, keyID)
	if err != nil {
		return err
	}
	opts.skipTop = signedJSONSkips
	return withCanonicalJSON(obj, opts, func(canonical []byte) error {
		if !ed25519.Verify(pub, canonical, signature) {
			return fmt.Errorf("%w: by %s with %s", ErrSignatureInvalid, serverName, keyID)
		}
		return nil
	})
}

// findSignature returns the decoded signatures[serverName][keyID].
func findSignature(obj []byte, serverName, keyID string) ([]byte, error) {
	sig := field(field(topLevelField(obj, "signatures"), serverName), keyID)
	if sig.Type != gjson.String {
		return nil, fmt.Errorf("%w: by %s with %s", ErrSignatureMissing, serverName, keyID)
	}
	signature, err := DecodeBase64(sig.Str)
	if err != nil || len(signature) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: by %s with %s: malformed", ErrSignatureInvalid, serverName, keyID)
	}
	return signature, nil
}
