package federation

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

// KeyServer publishes this server's signing keys at /_matrix/key/v2/server.
type KeyServer struct {
	ServerName string
	KeyID      string
	Private    ed25519.PrivateKey
	Validity   time.Duration
	Store      storage.ServerKeyStore
	Now        func() time.Time
}

// PublishCurrentKey records the current key in the store's key history and
// marks any other still-current key expired now, so that after a rotation
// the old key is served in old_verify_keys and events it signed still verify.
func PublishCurrentKey(ctx context.Context, store storage.ServerKeyStore, keyID string, pub ed25519.PublicKey, now time.Time) error {
	known, err := store.SigningKeys(ctx)
	if err != nil {
		return err
	}
	found := false
	for _, k := range known {
		switch {
		case k.KeyID == keyID:
			found = true
		case k.ExpiredTS == 0:
			if err := store.ExpireSigningKey(ctx, k.KeyID, now.UnixMilli()); err != nil {
				return err
			}
		}
	}
	if found {
		return nil
	}
	return store.AddSigningKey(ctx, storage.SigningKey{KeyID: keyID, PublicKey: pub, CreatedTS: now.UnixMilli()})
}

type verifyKey struct {
	Key string `json:"key"`
}

type oldVerifyKey struct {
	Key       string `json:"key"`
	ExpiredTS int64  `json:"expired_ts"`
}

type serverKeys struct {
	ServerName    string                  `json:"server_name"`
	ValidUntilTS  int64                   `json:"valid_until_ts"`
	VerifyKeys    map[string]verifyKey    `json:"verify_keys"`
	OldVerifyKeys map[string]oldVerifyKey `json:"old_verify_keys"`
}

// Response builds the signed key response.
func (ks *KeyServer) Response(ctx context.Context) ([]byte, error) {
	history, err := ks.Store.SigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	pub := ks.Private.Public().(ed25519.PublicKey)
	body := serverKeys{
		ServerName:    ks.ServerName,
		ValidUntilTS:  ks.Now().Add(ks.Validity).UnixMilli(),
		VerifyKeys:    map[string]verifyKey{ks.KeyID: {Key: base64.RawStdEncoding.EncodeToString(pub)}},
		OldVerifyKeys: map[string]oldVerifyKey{},
	}
	for _, k := range history {
		if k.KeyID == ks.KeyID || k.ExpiredTS == 0 {
			continue
		}
		body.OldVerifyKeys[k.KeyID] = oldVerifyKey{Key: base64.RawStdEncoding.EncodeToString(k.PublicKey), ExpiredTS: k.ExpiredTS}
	}
	unsigned, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	signed, err := mxcore.SignJSON(unsigned, ks.ServerName, ks.KeyID, ks.Private)
	if err != nil {
		return nil, fmt.Errorf("signing key response: %w", err)
	}
	return signed, nil
}

// ServeHTTP answers GET /_matrix/key/v2/server.
func (ks *KeyServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := ks.Response(r.Context())
	if err != nil {
		mxhttp.WriteError(w, r, err)
		return
	}
	mxhttp.WriteRawJSON(w, http.StatusOK, body)
}
