package clientapi

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

// Cross-signing (cross_signing.yaml): a user's master key signs their
// self-signing key (which signs their devices) and their user-signing key
// (which signs other users' master keys).

const errInvalidSignature = "M_INVALID_SIGNATURE"

// crossSigningTypes maps the upload fields to stored types and usages.
var crossSigningTypes = []struct{ field, typ string }{
	{"master_key", "master"}, {"self_signing_key", "self_signing"}, {"user_signing_key", "user_signing"},
}

type crossSigningKey struct {
	UserID     string                       `json:"user_id"`
	Usage      []string                     `json:"usage"`
	Keys       map[string]string            `json:"keys"`
	Signatures map[string]map[string]string `json:"signatures"`
}

// parsedCrossKey is an uploaded cross-signing key, checked.
type parsedCrossKey struct {
	typ       string
	raw       []byte // compact JSON, as stored
	keyID     string // "ed25519:<public key>"
	publicKey string
}

// uploadCrossSigningKeys is POST /keys/device_signing/upload. UIA is
// needed unless the user has no master key yet, or the request only
// repeats the stored keys (spec v1.11+), which keeps it idempotent.
func (a *API) uploadCrossSigningKeys(r *http.Request) (any, error) {
	var body map[string]json.RawMessage
	if err := decodeOptionalJSON(r, &body); err != nil {
		return nil, err
	}
	sess := roomCaller(r)
	ctx := r.Context()
	keys, err := a.parseCrossSigningUpload(ctx, sess.UserID, body)
	if err != nil {
		return nil, err
	}
	storedAll, err := a.Store.CrossSigningKeys(ctx, []string{sess.UserID})
	if err != nil {
		return nil, err
	}
	stored := storedAll[sess.UserID]
	if err := checkCrossSigningSignatures(sess.UserID, keys, stored); err != nil {
		return nil, err
	}
	if _, hasMaster := stored["master"]; hasMaster && !onlyRepeats(keys, stored) {
		operation, accountID, _ := accountOperation(r, "upload cross-signing keys")
		uia, err := a.interactiveAuth(r, uiaRequest{operation: operation, flows: passwordFlows, auth: body["auth"], accountID: accountID})
		if err != nil {
			return nil, err
		}
		err = a.storeCrossSigningKeys(ctx, sess.UserID, keys)
		a.uia.finish(uia, err == nil)
		return struct{}{}, err
	}
	if onlyRepeats(keys, stored) {
		return struct{}{}, nil
	}
	return struct{}{}, a.storeCrossSigningKeys(ctx, sess.UserID, keys)
}

func (a *API) storeCrossSigningKeys(ctx context.Context, userID string, keys []parsedCrossKey) error {
	if len(keys) == 0 {
		return nil
	}
	byType := map[string][]byte{}
	for _, k := range keys {
		byType[k.typ] = k.raw
	}
	pos, err := a.Store.SetCrossSigningKeys(ctx, userID, byType)
	if err != nil {
		return err
	}
	a.deviceListChanged(ctx, DeviceListChange{UserID: userID, Pos: pos})
	return nil
}

// parseCrossSigningUpload checks each uploaded key's shape: the caller's,
// of the field's usage, one ed25519 key whose ID is its public key, and
// not named like one of the user's devices.
func (a *API) parseCrossSigningUpload(ctx context.Context, userID string, body map[string]json.RawMessage) ([]parsedCrossKey, error) {
	devices, err := a.Store.ListDevices(ctx, userID)
	if err != nil {
		return nil, err
	}
	var out []parsedCrossKey
	for _, t := range crossSigningTypes {
		raw, ok := body[t.field]
		if !ok || isAbsent(raw) {
			continue
		}
		k, err := parseCrossKey(raw, userID, t.typ)
		if err != nil {
			return nil, mxcore.BadJSON(t.field + ": " + err.Error())
		}
		for _, d := range devices {
			if d.DeviceID == k.publicKey {
				return nil, mxcore.Forbidden("The public key of " + t.field + " is one of your device IDs")
			}
		}
		out = append(out, k)
	}
	return out, nil
}

func parseCrossKey(raw json.RawMessage, userID, typ string) (parsedCrossKey, error) {
	var k crossSigningKey
	if err := json.Unmarshal(raw, &k); err != nil {
		return parsedCrossKey{}, err
	}
	if k.UserID != userID {
		return parsedCrossKey{}, errString("user_id must be your user ID")
	}
	if !slices.Contains(k.Usage, typ) {
		return parsedCrossKey{}, errString("usage must include " + typ)
	}
	if len(k.Keys) != 1 {
		return parsedCrossKey{}, errString("keys must hold exactly one key")
	}
	var out parsedCrossKey
	for id, pub := range k.Keys {
		alg, name, _ := strings.Cut(id, ":")
		if alg != "ed25519" || name != pub || !validEd25519(pub) {
			return parsedCrossKey{}, errString("keys must be {\"ed25519:<public key>\": \"<public key>\"}")
		}
		out.keyID, out.publicKey = id, pub
	}
	if len(k.Signatures) > 0 {
		if err := checkSignaturesShape(k.Signatures, userID); err != nil {
			return parsedCrossKey{}, errString("bad signatures")
		}
	}
	js, err := compactJSON(raw)
	if err != nil {
		return parsedCrossKey{}, err
	}
	out.typ, out.raw = typ, js
	return out, nil
}

type errString string

func (e errString) Error() string { return string(e) }

func validEd25519(pub string) bool {
	b, err := mxcore.DecodeBase64(pub)
	return err == nil && len(b) == ed25519.PublicKeySize
}

// checkCrossSigningSignatures: the self-signing and user-signing keys
// must be signed by the master key uploaded with them, or else the stored one.
func checkCrossSigningSignatures(userID string, keys []parsedCrossKey, stored map[string][]byte) error {
	var master *parsedCrossKey
	for i := range keys {
		if keys[i].typ == "master" {
			master = &keys[i]
		}
	}
	if master == nil && stored["master"] != nil {
		pub := crossSigningPublicKey(stored["master"])
		master = &parsedCrossKey{keyID: "ed25519:" + pub, publicKey: pub}
	}
	for _, k := range keys {
		if k.typ == "master" {
			continue
		}
		if master == nil {
			return mxcore.MissingParam("No master signing key is available")
		}
		if err := verifyBy(k.raw, userID, master.keyID, master.publicKey); err != nil {
			return mxcore.NewError(http.StatusBadRequest, errInvalidSignature, "The %s key is not signed by the master key", k.typ)
		}
	}
	return nil
}

// verifyBy checks signer's signature with the ed25519 key keyID (public
// key pub, unpadded base64) on obj.
func verifyBy(obj []byte, signer, keyID, pub string) error {
	key, err := mxcore.DecodeBase64(pub)
	if err != nil || len(key) != ed25519.PublicKeySize {
		return errString("bad public key")
	}
	return mxcore.VerifyJSON(obj, signer, keyID, ed25519.PublicKey(key))
}

// onlyRepeats reports whether every uploaded key equals the stored one.
func onlyRepeats(keys []parsedCrossKey, stored map[string][]byte) bool {
	for _, k := range keys {
		old, ok := stored[k.typ]
		if !ok || !sameJSON(old, k.raw) {
			return false
		}
	}
	return true
}

// sameJSON compares two JSON values canonically.
func sameJSON(a, b []byte) bool {
	ca, err1 := mxcore.CanonicalJSONLax(a)
	cb, err2 := mxcore.CanonicalJSONLax(b)
	return err1 == nil && err2 == nil && string(ca) == string(cb)
}

// crossSigningPublicKey is the public key of a stored cross-signing key.
func crossSigningPublicKey(keyJSON []byte) string {
	var k crossSigningKey
	if json.Unmarshal(keyJSON, &k) != nil {
		return ""
	}
	for _, pub := range k.Keys {
		return pub
	}
	return ""
}

// keyFailure is one entry of /keys/signatures/upload's failures.
type keyFailure struct {
	Errcode string `json:"errcode"`
	Error   string `json:"error"`
}

// uploadSignatures is POST /keys/signatures/upload. Each signed object
// must be a stored key, unchanged but for its signatures, signed by the
// caller's key that may sign it: their self-signing key for their own
// devices, one of their devices for their own master key, their
// user-signing key for another user's master key, of this server or
// another (whose key is asked of it). Others fail one by one.
func (a *API) uploadSignatures(r *http.Request) (any, error) {
	var body map[string]map[string]json.RawMessage
	if err := decodeRoomBody(r, &body); err != nil {
		return nil, err
	}
	if err := checkRequestSize(len(body), func(yield func(int) bool) {
		for _, ks := range body {
			if !yield(len(ks)) {
				return
			}
		}
	}); err != nil {
		return nil, err
	}
	ctx := r.Context()
	caller := roomCaller(r).UserID
	signer, err := a.loadSigner(ctx, caller)
	if err != nil {
		return nil, err
	}
	failures := map[string]map[string]keyFailure{}
	var accepted []storage.KeySignature
	for target, objs := range body {
		for keyID, obj := range objs {
			sigs, fail := a.checkSignedObject(ctx, signer, target, keyID, obj)
			if fail != nil {
				if failures[target] == nil {
					failures[target] = map[string]keyFailure{}
				}
				failures[target][keyID] = *fail
				continue
			}
			accepted = append(accepted, sigs...)
		}
	}
	if len(accepted) > 0 {
		pos, err := a.Store.AddKeySignatures(ctx, accepted)
		if err != nil {
			return nil, err
		}
		for _, u := range uniqueTargets(accepted) {
			a.deviceListMoved(ctx, u, pos)
		}
		a.announceSignatures(ctx, accepted, pos)
	}
	return map[string]any{"failures": failures}, nil
}

// signer is what the caller may sign with: their cross-signing keys and
// their devices' keys.
type signer struct {
	userID  string
	cross   map[string][]byte
	devices map[string][]byte
	// remoteMasters are the remote users' master keys looked up so far.
	remoteMasters map[string][]byte
}

func (a *API) loadSigner(ctx context.Context, userID string) (*signer, error) {
	cross, err := a.Store.CrossSigningKeys(ctx, []string{userID})
	if err != nil {
		return nil, err
	}
	devs, err := a.Store.DeviceKeys(ctx, []string{userID})
	if err != nil {
		return nil, err
	}
	return &signer{userID: userID, cross: cross[userID], devices: devs[userID]}, nil
}

// checkSignedObject finds the stored key obj claims to be and the
// signatures on it by the key allowed to sign it.
func (a *API) checkSignedObject(ctx context.Context, s *signer, target, keyID string, obj json.RawMessage) ([]storage.KeySignature, *keyFailure) {
	stored, signerKeys, fail := a.signedTarget(ctx, s, target, keyID)
	if fail != nil {
		return nil, fail
	}
	if !sameUnsigned(stored, obj) {
		return nil, &keyFailure{mxcore.ErrInvalidParam, "The signed object does not match the stored key"}
	}
	var out []storage.KeySignature
	for sigKeyID, pub := range signerKeys {
		if err := verifyBy(obj, s.userID, sigKeyID, pub); err != nil {
			continue
		}
		var sigs crossSigningKey
		_ = json.Unmarshal(obj, &sigs) // verifyBy parsed it
		out = append(out, storage.KeySignature{SignerUserID: s.userID, SignerKeyID: sigKeyID, TargetUserID: target, TargetKeyID: keyID, Signature: sigs.Signatures[s.userID][sigKeyID]})
	}
	if len(out) == 0 {
		return nil, &keyFailure{errInvalidSignature, "No valid signature by a key allowed to sign this key"}
	}
	return out, nil
}

// signedTarget returns the stored key that target's keyID names and the
// caller's keys (key ID → public key) allowed to sign it.
func (a *API) signedTarget(ctx context.Context, s *signer, target, keyID string) ([]byte, map[string]string, *keyFailure) {
	unknown := &keyFailure{mxcore.ErrNotFound, "Unknown key"}
	if target == s.userID {
		if dev, ok := s.devices[keyID]; ok {
			ssk := crossSigningPublicKey(s.cross["self_signing"])
			if ssk == "" {
				return nil, nil, &keyFailure{errInvalidSignature, "You have no self-signing key"}
			}
			return dev, map[string]string{"ed25519:" + ssk: ssk}, nil
		}
		if master := s.cross["master"]; master != nil && crossSigningPublicKey(master) == keyID {
			return master, s.deviceSigningKeys(), nil
		}
		return nil, nil, unknown
	}
	master, fail := a.masterKeyOf(ctx, s, target)
	if fail != nil {
		return nil, nil, fail
	}
	if master == nil || crossSigningPublicKey(master) != keyID {
		return nil, nil, unknown
	}
	usk := crossSigningPublicKey(s.cross["user_signing"])
	if usk == "" {
		return nil, nil, &keyFailure{errInvalidSignature, "You have no user-signing key"}
	}
	return master, map[string]string{"ed25519:" + usk: usk}, nil
}

// maxRemoteSignTargets bounds the remote users whose master keys one
// signature upload looks up (each may be a request to their server).
const maxRemoteSignTargets = 20

// masterKeyOf is another user's master key (nil if they have none): a
// local user's from the store, a remote user's as their server (or the
// cache of it) tells, looked up once per upload.
func (a *API) masterKeyOf(ctx context.Context, s *signer, target string) ([]byte, *keyFailure) {
	if a.isLocalUser(target) {
		theirs, err := a.Store.CrossSigningKeys(ctx, []string{target})
		if err != nil {
			return nil, &keyFailure{mxcore.ErrUnknown, "Could not read the key"}
		}
		return theirs[target]["master"], nil
	}
	if master, ok := s.remoteMasters[target]; ok {
		return master, nil
	}
	server := serverOf(target)
	if server == "" || a.RemoteE2EE == nil {
		return nil, &keyFailure{mxcore.ErrNotFound, "Unknown key"}
	}
	if len(s.remoteMasters) >= maxRemoteSignTargets {
		return nil, &keyFailure{mxcore.ErrLimitExceeded, "Too many other servers' users in one upload"}
	}
	rctx, cancel := context.WithTimeout(ctx, remoteKeysTimeout)
	got, err := a.RemoteE2EE.QueryKeys(rctx, server, map[string][]string{target: {}})
	cancel()
	master := []byte(got.MasterKeys[target])
	if err != nil && master == nil {
		return nil, &keyFailure{mxcore.ErrUnknown, "Could not reach " + server + " for the key"}
	}
	if s.remoteMasters == nil {
		s.remoteMasters = map[string][]byte{}
	}
	s.remoteMasters[target] = master
	return master, nil
}

// deviceSigningKeys are the ed25519 keys of the user's devices.
func (s *signer) deviceSigningKeys() map[string]string {
	out := map[string]string{}
	for deviceID, js := range s.devices {
		var dk deviceKeysShape
		if json.Unmarshal(js, &dk) != nil {
			continue
		}
		if pub, ok := dk.Keys["ed25519:"+deviceID]; ok {
			out["ed25519:"+deviceID] = pub
		}
	}
	return out
}

// sameUnsigned compares two key objects without signatures and unsigned.
func sameUnsigned(a, b []byte) bool {
	strip := func(js []byte) []byte {
		var obj map[string]json.RawMessage
		if json.Unmarshal(js, &obj) != nil {
			return nil
		}
		delete(obj, "signatures")
		delete(obj, "unsigned")
		out, _ := json.Marshal(obj)
		return out
	}
	sa, sb := strip(a), strip(b)
	return sa != nil && sb != nil && sameJSON(sa, sb)
}

func uniqueTargets(sigs []storage.KeySignature) []string {
	var out []string
	for _, s := range sigs {
		if !slices.Contains(out, s.TargetUserID) {
			out = append(out, s.TargetUserID)
		}
	}
	return out
}
