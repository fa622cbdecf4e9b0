package mxcore

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/tidwall/gjson"
)

// Event hashes and event signing (server-server API, "Signing Events").
//
// The content hash covers the whole event, so a receiver can tell a
// redacted copy from the original; the reference hash covers the redacted
// event, so it survives redaction and names events from room version 3 on.

// ErrContentHashMismatch means an event's content differs from what its
// sender hashed: the spec says to use the redacted form instead.
var ErrContentHashMismatch = errors.New("content hash mismatch")

// ContentHash is the SHA-256 of the event as canonical JSON without its
// "unsigned", "signatures" and "hashes" members. It takes no room version:
// the lax number rules of old rooms give the same bytes as the strict ones
// for every event valid in a newer room; NewPDU enforces the strict ones.
func ContentHash(eventJSON []byte) ([]byte, error) {
	return hashCanonical(eventJSON, canonOptions{lax: true, skipTop: []string{"unsigned", "signatures", "hashes"}})
}

func hashCanonical(js []byte, opts canonOptions) ([]byte, error) {
	var sum [sha256.Size]byte
	err := withCanonicalJSON(js, opts, func(canonical []byte) error {
		if len(canonical) == 0 || canonical[0] != '{' {
			return errNotObject
		}
		sum = sha256.Sum256(canonical)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return sum[:], nil
}

// CheckContentHash compares the event's hashes.sha256 with its content
// hash. It returns ErrContentHashMismatch (wrapped) when they differ or
// the hash is missing or malformed.
func CheckContentHash(eventJSON []byte) error {
	want, err := ContentHash(eventJSON)
	if err != nil {
		return err
	}
	claimed := field(topLevelField(eventJSON, "hashes"), "sha256")
	if claimed.Type != gjson.String {
		return fmt.Errorf("%w: no hashes.sha256", ErrContentHashMismatch)
	}
	got, err := DecodeBase64(claimed.Str)
	if err != nil || !bytes.Equal(got, want) {
		return ErrContentHashMismatch
	}
	return nil
}

// AddContentHash returns the event with hashes.sha256 set to its content
// hash; other hash algorithms already in "hashes" are kept.
func AddContentHash(eventJSON []byte) ([]byte, error) {
	sum, err := ContentHash(eventJSON)
	if err != nil {
		return nil, err
	}
	existing := topLevelField(eventJSON, "hashes")
	if existing.Exists() && !existing.IsObject() {
		return nil, errors.New("add content hash: hashes is not an object")
	}
	hashes := copyMembersExcept(existing, "sha256")
	hashes = appendRawMember(hashes, `"sha256"`, jsonString(EncodeBase64(sum)))
	return setMember(eventJSON, "hashes", append(hashes, '}'))
}

// ReferenceHash is the SHA-256 of the redacted event as canonical JSON
// without "signatures" and "unsigned". (Older spec text also removed a
// top-level "age_ts"; redaction removes it anyway.)
func ReferenceHash(eventJSON []byte, ver RoomVersion) ([]byte, error) {
	opts, err := redactedCanonOptions(eventJSON, ver)
	if err != nil {
		return nil, err
	}
	return hashCanonical(eventJSON, opts)
}

// redactedCanonOptions makes the canonicaliser write the event redacted
// and without signatures and unsigned: the bytes that event signatures and
// reference hashes cover.
func redactedCanonOptions(eventJSON []byte, ver RoomVersion) (canonOptions, error) {
	filter, err := redactionFilterFor(eventJSON, ver)
	if err != nil {
		return canonOptions{}, err
	}
	opts := canonOptionsFor(ver, signedJSONSkips...)
	opts.redaction = filter
	return opts, nil
}

// EventIDFor returns the ID of an event: its own "event_id" in room
// versions 1–2, else "$" and its reference hash in unpadded base64,
// standard in version 3 and URL-safe from version 4.
func EventIDFor(eventJSON []byte, ver RoomVersion) (string, error) {
	if ver.EventIDs == EventIDExplicit {
		id := topLevelField(eventJSON, "event_id")
		if id.Type != gjson.String {
			return "", errors.New("event has no event_id")
		}
		if _, err := ParseEventID(id.Str); err != nil {
			return "", err
		}
		return id.Str, nil
	}
	return hashEventID(eventJSON, ver, '$')
}

func hashEventID(eventJSON []byte, ver RoomVersion, sigil byte) (string, error) {
	sum, err := ReferenceHash(eventJSON, ver)
	if err != nil {
		return "", err
	}
	return hashID(sigil, sum, ver)
}

// hashID writes a reference hash as an ID of the room version's format.
func hashID(sigil byte, sum []byte, ver RoomVersion) (string, error) {
	enc := base64.RawURLEncoding
	switch ver.EventIDs {
	case EventIDHashStd:
		enc = base64.RawStdEncoding
	case EventIDHashURL:
	default:
		return "", fmt.Errorf("room version %q has no hash event IDs", ver.ID)
	}
	var buf [1 + 64]byte // a sigil and the 43 characters of a SHA-256
	buf[0] = sigil
	n := enc.EncodedLen(len(sum))
	enc.Encode(buf[1:1+n], sum)
	return string(buf[:1+n]), nil
}

// RoomIDFromCreateEvent returns the ID of the room a create event founds.
// From room version 12 that is "!" and the event's URL-safe reference
// hash; earlier versions name the room in the event's own "room_id".
func RoomIDFromCreateEvent(createJSON []byte, ver RoomVersion) (string, error) {
	if typ := topLevelField(createJSON, "type"); typ.Str != "m.room.create" || typ.Type != gjson.String {
		return "", errors.New("not an m.room.create event")
	}
	if !ver.RoomIDFromCreateEvent {
		roomID := topLevelField(createJSON, "room_id")
		if roomID.Type != gjson.String {
			return "", errors.New("create event has no room_id")
		}
		return roomID.Str, nil
	}
	return hashEventID(createJSON, ver, '!')
}

// SignEvent signs an event as serverName: the signature covers the
// redacted event (so it survives redaction) and is added to the full
// event, which is returned. A server creating an event calls
// AddContentHash first, since the signature covers the hashes.
func SignEvent(eventJSON []byte, serverName, keyID string, priv ed25519.PrivateKey, ver RoomVersion) ([]byte, error) {
	opts, err := redactedCanonOptions(eventJSON, ver)
	if err != nil {
		return nil, err
	}
	signature, err := signatureOf(eventJSON, keyID, priv, opts)
	if err != nil {
		return nil, err
	}
	return addSignature(eventJSON, serverName, keyID, signature)
}

// VerifyEventSignature checks serverName's signature by key keyID on an
// event, full or redacted. It returns ErrSignatureMissing or
// ErrSignatureInvalid (wrapped) on failure; checking the content hash is
// a separate step (CheckContentHash).
func VerifyEventSignature(eventJSON []byte, serverName, keyID string, pub ed25519.PublicKey, ver RoomVersion) error {
	opts, err := redactedCanonOptions(eventJSON, ver)
	if err != nil {
		return err
	}
	return verifyJSON(eventJSON, serverName, keyID, pub, opts)
}
