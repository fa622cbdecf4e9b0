package roomserver

import (
	"crypto/ed25519"
	"encoding/base64"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/warbler-im/warbler/mxcore"
)

// Rule 5.3.1.7 (v6–7: 4.3.1.7, v8–11: 4.4.1.7, v12: 5.4.1.7): an invite
// redeeming a third-party invite is allowed if any signature in
// content.third_party_invite.signed verifies with any public key of the
// m.room.third_party_invite event. The keys travel in the room state, so
// this is pure: canonical JSON plus ed25519.

// signedByInviteKey reports whether signed carries an ed25519 signature, by
// any entity, that verifies with one of the invite's public keys.
func signedByInviteKey(signed, invite gjson.Result) bool {
	keys := invitePublicKeys(invite)
	if len(keys) == 0 {
		return false
	}
	msg, ok := inviteSignedMessage(signed)
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

// inviteSignedMessage returns the bytes the signatures in a
// third_party_invite's "signed" object cover: the object without its
// "signatures" and "unsigned" members, as canonical JSON (spec appendix
// "Signing JSON"). It fails when the object has no canonical form.
func inviteSignedMessage(signed gjson.Result) ([]byte, bool) {
	if !signed.IsObject() {
		return nil, false
	}
	obj := make([]byte, 0, len(signed.Raw))
	obj = append(obj, '{')
	signed.ForEach(func(k, v gjson.Result) bool {
		if k.Str == "signatures" || k.Str == "unsigned" {
			return true
		}
		if len(obj) > 1 {
			obj = append(obj, ',')
		}
		obj = append(append(append(obj, k.Raw...), ':'), v.Raw...)
		return true
	})
	msg, err := mxcore.CanonicalJSON(append(obj, '}'))
	return msg, err == nil
}
