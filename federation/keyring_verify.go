package federation

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/warbler-im/warbler/mxcore"
)

// SignatureVerifier checks that JSON objects and events carry a valid
// signature of a given server; *Keyring is one. Inbound transactions use
// it on every PDU.
type SignatureVerifier interface {
	// VerifyJSONFrom checks server's signature on a signed JSON object
	// with a key valid at atTS (Unix milliseconds; AnyTime for any).
	VerifyJSONFrom(ctx context.Context, server string, obj []byte, atTS int64) error
	// VerifyEventFrom checks server's signature on an event (full or
	// redacted) of room version ver, with a key valid at the event's
	// origin_server_ts where the room version requires it.
	VerifyEventFrom(ctx context.Context, server string, event []byte, ver mxcore.RoomVersion) error
}

var _ SignatureVerifier = (*Keyring)(nil)

// VerifyJSONFrom implements SignatureVerifier.
func (k *Keyring) VerifyJSONFrom(ctx context.Context, server string, obj []byte, atTS int64) error {
	return k.verifySignedBy(ctx, server, obj, atTS, mxcore.VerifyJSON)
}

// VerifyEventFrom implements SignatureVerifier.
func (k *Keyring) VerifyEventFrom(ctx context.Context, server string, event []byte, ver mxcore.RoomVersion) error {
	atTS := AnyTime
	if ver.EnforceKeyValidity {
		ts := gjson.GetBytes(event, "origin_server_ts")
		if ts.Type != gjson.Number || ts.Int() <= 0 {
			return errors.New("event has no usable origin_server_ts to check its key against")
		}
		atTS = ts.Int()
	}
	return k.verifySignedBy(ctx, server, event, atTS, func(obj []byte, server, keyID string, pub ed25519.PublicKey) error {
		return mxcore.VerifyEventSignature(obj, server, keyID, pub, ver)
	})
}

type verifyFunc func(obj []byte, server, keyID string, pub ed25519.PublicKey) error

// verifySignedBy accepts obj if any of server's ed25519 signatures on it
// verifies with a key valid at atTS.
func (k *Keyring) verifySignedBy(ctx context.Context, server string, obj []byte, atTS int64, verify verifyFunc) error {
	keyIDs := ed25519SignatureKeyIDs(obj, server)
	if len(keyIDs) == 0 {
		return fmt.Errorf("%w: no ed25519 signature by %s", mxcore.ErrSignatureMissing, server)
	}
	var errs []error
	for _, keyID := range keyIDs {
		pub, err := k.VerifyKeyAt(ctx, server, keyID, atTS)
		if err == nil {
			err = verify(obj, server, keyID, pub)
		}
		if err == nil {
			return nil
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// ed25519SignatureKeyIDs lists the key IDs of server's ed25519 signatures,
// in the order they appear.
func ed25519SignatureKeyIDs(obj []byte, server string) []string {
	var keyIDs []string
	gjson.GetBytes(obj, "signatures").ForEach(func(name, sigs gjson.Result) bool {
		if name.String() != server {
			return true
		}
		sigs.ForEach(func(keyID, _ gjson.Result) bool {
			if strings.HasPrefix(keyID.String(), mxcore.KeyAlgorithmEd25519+":") {
				keyIDs = append(keyIDs, keyID.String())
			}
			return true
		})
		return false
	})
	return keyIDs
}
