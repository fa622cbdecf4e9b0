package federation

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/warbler-im/warbler/storage"
)

// KeyClient sends the unauthenticated requests key fetching needs;
// *Client is one.
type KeyClient interface {
	DoUnauthenticated(ctx context.Context, destination, method, path string, body any) (*Response, error)
}

// KeyringConfig is what NewKeyring needs.
type KeyringConfig struct {
	// Self answers for this server's own keys without the network.
	Self *KeyServer
	// Store keeps fetched keys across restarts.
	Store storage.RemoteServerKeyStore
	// Client fetches keys from other servers.
	Client KeyClient
	// Notaries are servers asked for a key when its server cannot
	// provide it (federation.key_notaries).
	Notaries []string
	// MaxConcurrentFetches bounds key requests in flight; 0 means 16.
	MaxConcurrentFetches int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Keyring knows other servers' signing keys: from memory, else from
// storage, else fetched from the server itself or, failing that, from
// notaries. Fetches for one server are shared by all who wait for them,
// limited in number overall, and after a failure not retried until a
// backoff has passed.
type Keyring struct {
	self     *KeyServer
	store    storage.RemoteServerKeyStore
	client   KeyClient
	notaries []string
	now      func() time.Time

	fetchSlots chan struct{}
	flights    singleflight.Group

	mu      sync.RWMutex
	servers map[string]*serverKeyState
}

// serverKeyState is what the keyring knows of one server.
type serverKeyState struct {
	keys     map[string]storage.RemoteServerKey
	response storage.RemoteKeyResponse // newest document, for notary use
	loaded   bool                      // storage has been read
	retryAt  time.Time                 // no fetch before this
	failures int                       // fetches failed in a row
}

const (
	// maxKeyValidity caps valid_until_ts: the spec says to use the lesser
	// of it and 7 days after fetching.
	maxKeyValidity = 7 * 24 * time.Hour
	// minRefetchInterval spaces fetches for a server that succeeded, so
	// requests naming unknown key IDs cannot make us fetch on each one.
	minRefetchInterval = 30 * time.Second
	firstFetchBackoff  = 15 * time.Second
	maxFetchBackoff    = 10 * time.Minute
	keyFetchTimeout    = 30 * time.Second
)

// AnyTime, as the ts of VerifyKeyAt, accepts a key whatever its validity
// period: room versions 1–4 ignore valid_until_ts.
const AnyTime int64 = 0

// ErrKeyUnavailable reports that no usable key could be found or fetched.
var ErrKeyUnavailable = errors.New("signing key unavailable")

// NewKeyring builds a keyring from cfg.
func NewKeyring(cfg KeyringConfig) *Keyring {
	slots := cfg.MaxConcurrentFetches
	if slots <= 0 {
		slots = 16
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Keyring{
		self: cfg.Self, store: cfg.Store, client: cfg.Client, notaries: cfg.Notaries, now: now,
		fetchSlots: make(chan struct{}, slots),
		servers:    map[string]*serverKeyState{},
	}
}

// VerifyKeyAt returns server's key keyID if it was valid at ts (Unix
// milliseconds): a current key until its valid_until_ts (at most 7 days
// after fetching), an old key before its expired_ts. Room versions 5 and
// later require this at an event's origin_server_ts; AnyTime skips the
// check. A key not known to be valid then is (re)fetched.
func (k *Keyring) VerifyKeyAt(ctx context.Context, server, keyID string, ts int64) (ed25519.PublicKey, error) {
	return k.findKey(ctx, server, keyID, keyRule{ts: ts}, true)
}

// CurrentKey returns a key the server lists in verify_keys and that is
// valid now, the kind that signs requests.
func (k *Keyring) CurrentKey(ctx context.Context, server, keyID string) (ed25519.PublicKey, error) {
	return k.currentKey(ctx, server, keyID, true)
}

// currentKey is CurrentKey, optionally without asking notaries: a
// notary's own key must come from the notary itself.
func (k *Keyring) currentKey(ctx context.Context, server, keyID string, withNotaries bool) (ed25519.PublicKey, error) {
	return k.findKey(ctx, server, keyID, keyRule{ts: k.now().UnixMilli(), currentOnly: true}, withNotaries)
}

// keyRule says which keys a caller can use: valid at ts, and if
// currentOnly, listed in verify_keys (not old_verify_keys).
type keyRule struct {
	ts          int64
	currentOnly bool
}

func (r keyRule) allows(key storage.RemoteServerKey) bool {
	return validAt(key, r.ts) && (!r.currentOnly || key.ExpiredTS == 0)
}

// validAt applies the spec's validity rules to a stored key.
func validAt(key storage.RemoteServerKey, ts int64) bool {
	switch {
	case ts == AnyTime:
		return true
	case key.ExpiredTS != 0:
		return ts < key.ExpiredTS
	default:
		return ts <= min(key.ValidUntilTS, key.FetchedTS+maxKeyValidity.Milliseconds())
	}
}

// findKey returns the key if it is known and usable, else fetches the
// server's keys (unless a backoff forbids it) and looks once more.
func (k *Keyring) findKey(ctx context.Context, server, keyID string, rule keyRule, withNotaries bool) (ed25519.PublicKey, error) {
	if k.self != nil && server == k.self.ServerName {
		return k.ownKey(ctx, keyID, rule)
	}
	if key, ok := k.cachedKey(ctx, server, keyID); ok && rule.allows(key) {
		return key.PublicKey, nil
	}
	need := keyNeed{keyID: keyID, minValidTS: max(rule.ts, k.now().UnixMilli()), rule: rule}
	fetchErr := k.refresh(ctx, server, need, withNotaries)
	if key, ok := k.cachedKey(ctx, server, keyID); ok && rule.allows(key) {
		return key.PublicKey, nil
	}
	if fetchErr != nil {
		return nil, fmt.Errorf("%w: %s of %s: %w", ErrKeyUnavailable, keyID, server, fetchErr)
	}
	return nil, fmt.Errorf("%w: %s of %s is unknown or not valid at %d", ErrKeyUnavailable, keyID, server, rule.ts)
}

// ownKey looks our own key up in the document we publish.
func (k *Keyring) ownKey(ctx context.Context, keyID string, rule keyRule) (ed25519.PublicKey, error) {
	raw, err := k.self.Response(ctx)
	if err != nil {
		return nil, err
	}
	own, err := checkKeyResponse(raw, k.self.ServerName, k.now().UnixMilli())
	if err != nil {
		return nil, err
	}
	for _, key := range own.keys {
		if key.KeyID == keyID && rule.allows(key) {
			return key.PublicKey, nil
		}
	}
	return nil, fmt.Errorf("%w: %s is not a valid key of this server", ErrKeyUnavailable, keyID)
}

// cachedKey looks in memory, reading the server's stored keys first if
// that has not been done yet.
func (k *Keyring) cachedKey(ctx context.Context, server, keyID string) (storage.RemoteServerKey, bool) {
	if key, ok, loaded := k.memoryKey(server, keyID); loaded {
		return key, ok
	}
	k.loadFromStore(ctx, server)
	key, ok, _ := k.memoryKey(server, keyID)
	return key, ok
}

// ensureLoaded reads the server's stored keys into memory, once.
func (k *Keyring) ensureLoaded(ctx context.Context, server string) {
	if _, _, loaded := k.memoryKey(server, ""); !loaded {
		k.loadFromStore(ctx, server)
	}
}

func (k *Keyring) memoryKey(server, keyID string) (key storage.RemoteServerKey, ok, loaded bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	s := k.servers[server]
	if s == nil {
		return storage.RemoteServerKey{}, false, false
	}
	key, ok = s.keys[keyID]
	return key, ok, s.loaded
}

// loadFromStore merges the stored keys of server into memory, once. A
// storage error is logged and leaves the server to be fetched instead.
func (k *Keyring) loadFromStore(ctx context.Context, server string) {
	keys, err := k.store.RemoteServerKeys(ctx, server)
	if err != nil {
		slog.WarnContext(ctx, "reading stored server keys", "server", server, "err", err)
	}
	resp, respErr := k.store.RemoteKeyResponse(ctx, server)
	if respErr != nil && !errors.Is(respErr, storage.ErrNotFound) {
		slog.WarnContext(ctx, "reading stored key response", "server", server, "err", respErr)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	state := k.state(server)
	if state.loaded {
		return
	}
	state.loaded = err == nil
	for _, key := range keys {
		// A fetch may have finished while storage was being read.
		if inMemory, ok := state.keys[key.KeyID]; !ok || inMemory.FetchedTS < key.FetchedTS {
			state.merge(key)
		}
	}
	if respErr == nil && resp.FetchedTS > state.response.FetchedTS {
		state.response = resp
	}
}

// maxServerStates bounds the servers the keyring tracks. Past it, those
// of which no key is known are forgotten, so requests naming endless
// made-up origins cannot grow memory for ever.
const maxServerStates = 100_000

// state returns the entry of server, creating it; k.mu must be held.
func (k *Keyring) state(server string) *serverKeyState {
	s := k.servers[server]
	if s == nil {
		if len(k.servers) >= maxServerStates {
			k.forgetKeyless()
		}
		s = &serverKeyState{keys: map[string]storage.RemoteServerKey{}}
		k.servers[server] = s
	}
	return s
}

// forgetKeyless drops the servers without keys; k.mu must be held.
func (k *Keyring) forgetKeyless() {
	for name, s := range k.servers {
		if len(s.keys) == 0 {
			delete(k.servers, name)
		}
	}
}

// merge records what a newer fetch says about a key. Expiry sticks: once
// a server has declared a key old, a stale copy of an earlier document
// (from a notary's cache, say) cannot make it current again.
func (s *serverKeyState) merge(key storage.RemoteServerKey) storage.RemoteServerKey {
	old, known := s.keys[key.KeyID]
	if known && old.ExpiredTS != 0 && (key.ExpiredTS == 0 || old.ExpiredTS < key.ExpiredTS) {
		key.ExpiredTS = old.ExpiredTS
	}
	if known && !bytes.Equal(old.PublicKey, key.PublicKey) {
		slog.Warn("a server changed the public key behind a key ID", "server", key.ServerName, "key_id", key.KeyID)
	}
	s.keys[key.KeyID] = key
	return key
}
