package federation

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

// keyResponse is a server's key document as /_matrix/key/v2/server and
// the notary endpoints carry it.
type keyResponse struct {
	ServerName    string                       `json:"server_name"`
	ValidUntilTS  int64                        `json:"valid_until_ts"`
	VerifyKeys    map[string]verifyKey         `json:"verify_keys"`
	OldVerifyKeys map[string]oldVerifyKey      `json:"old_verify_keys"`
	Signatures    map[string]map[string]string `json:"signatures"`
}

// checkedKeys is a key response whose self-signature verified, ready to
// cache and store.
type checkedKeys struct {
	keys     []storage.RemoteServerKey
	response storage.RemoteKeyResponse
	// current holds the decoded verify_keys, to check further signatures
	// (a notary's) against the same document.
	current map[string]ed25519.PublicKey
}

// checkKeyResponse parses raw as server's key response and verifies that
// server signed it with at least one of the keys it lists as current;
// every such signature present must verify. The document's authenticity
// comes from how it was obtained (TLS to the server, or a notary's
// signature); the self-signature ties the keys to the server's name.
func checkKeyResponse(raw []byte, server string, fetchedTS int64) (checkedKeys, error) {
	var doc keyResponse
	if err := json.Unmarshal(raw, &doc); err != nil {
		return checkedKeys{}, fmt.Errorf("key response of %s: %w", server, err)
	}
	if doc.ServerName != server {
		return checkedKeys{}, fmt.Errorf("key response of %s names server %q", server, doc.ServerName)
	}
	current, err := decodeVerifyKeys(doc.VerifyKeys)
	if err != nil {
		return checkedKeys{}, fmt.Errorf("key response of %s: %w", server, err)
	}
	if err := checkSelfSignatures(raw, server, doc.Signatures[server], current); err != nil {
		return checkedKeys{}, err
	}
	stripped, err := withOnlySignaturesOf(raw, server)
	if err != nil {
		return checkedKeys{}, err
	}
	return checkedKeys{
		keys:     keyRows(doc, current, fetchedTS),
		response: storage.RemoteKeyResponse{ServerName: server, JSON: stripped, ValidUntilTS: doc.ValidUntilTS, FetchedTS: fetchedTS},
		current:  current,
	}, nil
}

func decodeVerifyKeys(keys map[string]verifyKey) (map[string]ed25519.PublicKey, error) {
	if len(keys) == 0 {
		return nil, errors.New("no verify_keys")
	}
	out := make(map[string]ed25519.PublicKey, len(keys))
	for id, k := range keys {
		pub, err := decodePublicKey(k.Key)
		if err != nil {
			return nil, fmt.Errorf("verify key %s: %w", id, err)
		}
		out[id] = pub
	}
	return out, nil
}

func decodePublicKey(s string) (ed25519.PublicKey, error) {
	raw, err := mxcore.DecodeBase64(s)
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, errors.New("not a base64 ed25519 public key")
	}
	return ed25519.PublicKey(raw), nil
}

func checkSelfSignatures(raw []byte, server string, sigs map[string]string, current map[string]ed25519.PublicKey) error {
	verified := 0
	for _, keyID := range sortedKeys(sigs) {
		pub, listed := current[keyID]
		if !listed {
			continue // e.g. a signature by a key the server no longer lists
		}
		if err := mxcore.VerifyJSON(raw, server, keyID, pub); err != nil {
			return fmt.Errorf("key response of %s: %w", server, err)
		}
		verified++
	}
	if verified == 0 {
		return fmt.Errorf("key response of %s: %w by any of its verify_keys", server, mxcore.ErrSignatureMissing)
	}
	return nil
}

// keyRows turns a checked document into storage rows. Old keys without
// expired_ts are left out: they could not be told from current ones.
func keyRows(doc keyResponse, current map[string]ed25519.PublicKey, fetchedTS int64) []storage.RemoteServerKey {
	var rows []storage.RemoteServerKey
	for id, pub := range current {
		rows = append(rows, storage.RemoteServerKey{ServerName: doc.ServerName, KeyID: id, PublicKey: pub,
			ValidUntilTS: doc.ValidUntilTS, FetchedTS: fetchedTS})
	}
	for id, old := range doc.OldVerifyKeys {
		pub, err := decodePublicKey(old.Key)
		if _, alsoCurrent := current[id]; err != nil || alsoCurrent || old.ExpiredTS <= 0 {
			continue
		}
		rows = append(rows, storage.RemoteServerKey{ServerName: doc.ServerName, KeyID: id, PublicKey: pub,
			ExpiredTS: old.ExpiredTS, FetchedTS: fetchedTS})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].KeyID < rows[j].KeyID })
	return rows
}

// withOnlySignaturesOf drops every signature but server's (a notary's, say)
// from a key document, so it can be stored and countersigned afresh.
func withOnlySignaturesOf(raw []byte, server string) ([]byte, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		return nil, err
	}
	var sigs map[string]json.RawMessage
	if err := json.Unmarshal(members["signatures"], &sigs); err != nil {
		return nil, fmt.Errorf("key response signatures: %w", err)
	}
	own, err := json.Marshal(map[string]json.RawMessage{server: sigs[server]})
	if err != nil {
		return nil, err
	}
	members["signatures"] = own
	return json.Marshal(members)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
