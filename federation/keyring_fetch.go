package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

// keyNeed is what a caller waits for from a fetch: key keyID as rule
// allows it, or with keyID "" a document valid until minValidTS.
type keyNeed struct {
	keyID      string
	minValidTS int64
	rule       keyRule
}

// errFetchBackoff reports that a server's keys were fetched (or failed to
// be) too recently to try again.
var errFetchBackoff = errors.New("fetched recently; not retrying yet")

// refresh fetches server's keys, unless its backoff forbids it, sharing
// the fetch with everyone else waiting for the same server. The fetch runs
// detached from ctx, so one caller giving up does not fail the others.
func (k *Keyring) refresh(ctx context.Context, server string, need keyNeed, withNotaries bool) error {
	if err := k.mayFetch(server); err != nil {
		return err
	}
	flightKey := server
	if !withNotaries {
		flightKey = "direct " + server
	}
	ch := k.flights.DoChan(flightKey, func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), keyFetchTimeout)
		defer cancel()
		return nil, k.fetch(ctx, server, need, withNotaries)
	})
	select {
	case res := <-ch:
		return res.Err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (k *Keyring) mayFetch(server string) error {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if s := k.servers[server]; s != nil && k.now().Before(s.retryAt) {
		return fmt.Errorf("%w (until %s)", errFetchBackoff, s.retryAt.UTC().Format(time.RFC3339))
	}
	return nil
}

// fetch asks the server itself, then, if that did not give what is
// needed, each notary in turn.
func (k *Keyring) fetch(ctx context.Context, server string, need keyNeed, withNotaries bool) error {
	var errs []error
	fetched := false
	if err := k.fetchDirect(ctx, server); err != nil {
		errs = append(errs, err)
	} else {
		fetched = true
	}
	for _, notary := range k.notaries {
		if !withNotaries || k.satisfied(server, need) {
			break
		}
		if notary == server {
			continue
		}
		if err := k.fetchViaNotary(ctx, notary, server, need); err != nil {
			errs = append(errs, fmt.Errorf("via notary %s: %w", notary, err))
			continue
		}
		fetched = true
	}
	k.noteOutcome(server, fetched)
	if fetched {
		return nil
	}
	return errors.Join(errs...)
}

func (k *Keyring) satisfied(server string, need keyNeed) bool {
	k.mu.RLock()
	defer k.mu.RUnlock()
	s := k.servers[server]
	if s == nil {
		return false
	}
	if need.keyID == "" {
		return s.response.ValidUntilTS >= need.minValidTS
	}
	key, ok := s.keys[need.keyID]
	return ok && need.rule.allows(key)
}

// noteOutcome sets when the server may next be fetched: soon after a
// success, after a doubling backoff after failures in a row.
func (k *Keyring) noteOutcome(server string, fetched bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	s := k.state(server)
	if fetched {
		s.failures = 0
		s.retryAt = k.now().Add(minRefetchInterval)
		return
	}
	s.failures++
	backoff := firstFetchBackoff
	for i := 1; i < s.failures && backoff < maxFetchBackoff; i++ {
		backoff *= 2
	}
	s.retryAt = k.now().Add(min(backoff, maxFetchBackoff))
}

// fetchDirect gets GET /_matrix/key/v2/server from the server, whose TLS
// certificate vouches for the document.
func (k *Keyring) fetchDirect(ctx context.Context, server string) error {
	resp, err := k.request(ctx, server, http.MethodGet, "/_matrix/key/v2/server", nil)
	if err != nil {
		return err
	}
	if err := resp.Err(); err != nil {
		return err
	}
	checked, err := checkKeyResponse(resp.Body, server, k.now().UnixMilli())
	if err != nil {
		return err
	}
	k.remember(ctx, server, checked)
	return nil
}

// fetchViaNotary asks a notary for server's keys. Each document must
// carry the server's own signature and the notary's, checked with the
// notary's key as fetched from the notary itself.
func (k *Keyring) fetchViaNotary(ctx context.Context, notary, server string, need keyNeed) error {
	criteria := map[string]any{}
	if need.keyID != "" {
		criteria[need.keyID] = map[string]int64{"minimum_valid_until_ts": need.minValidTS}
	}
	query := map[string]any{"server_keys": map[string]any{server: criteria}}
	resp, err := k.request(ctx, notary, http.MethodPost, "/_matrix/key/v2/query", query)
	if err != nil {
		return err
	}
	if err := resp.Err(); err != nil {
		return err
	}
	var answer struct {
		ServerKeys []json.RawMessage `json:"server_keys"`
	}
	if err := json.Unmarshal(resp.Body, &answer); err != nil {
		return fmt.Errorf("notary answer: %w", err)
	}
	return k.acceptNotarised(ctx, notary, server, answer.ServerKeys)
}

func (k *Keyring) acceptNotarised(ctx context.Context, notary, server string, docs []json.RawMessage) error {
	var errs []error
	accepted := 0
	for _, raw := range docs {
		checked, err := checkKeyResponse(raw, server, k.now().UnixMilli())
		if err == nil {
			err = k.checkNotarySignature(ctx, notary, raw)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		k.remember(ctx, server, checked)
		accepted++
	}
	if accepted == 0 {
		errs = append(errs, fmt.Errorf("no usable key document for %s", server))
		return errors.Join(errs...)
	}
	return nil
}

// checkNotarySignature needs one signature by the notary that verifies.
func (k *Keyring) checkNotarySignature(ctx context.Context, notary string, raw []byte) error {
	var doc struct {
		Signatures map[string]map[string]string `json:"signatures"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return err
	}
	var errs []error
	for _, keyID := range sortedKeys(doc.Signatures[notary]) {
		pub, err := k.currentKey(ctx, notary, keyID, false)
		if err == nil {
			err = mxcore.VerifyJSON(raw, notary, keyID, pub)
		}
		if err == nil {
			return nil
		}
		errs = append(errs, err)
	}
	errs = append(errs, fmt.Errorf("%w: no verifiable signature by notary %s", mxcore.ErrSignatureMissing, notary))
	return errors.Join(errs...)
}

// remember merges a checked document into memory and storage. A storage
// failure is logged: the keys still serve from memory.
func (k *Keyring) remember(ctx context.Context, server string, checked checkedKeys) {
	k.mu.Lock()
	s := k.state(server)
	rows := make([]storage.RemoteServerKey, 0, len(checked.keys))
	for _, key := range checked.keys {
		rows = append(rows, s.merge(key))
	}
	if checked.response.FetchedTS >= s.response.FetchedTS {
		s.response = checked.response
	}
	k.mu.Unlock()
	if err := k.store.StoreRemoteServerKeys(ctx, checked.response, rows); err != nil {
		slog.WarnContext(ctx, "storing server keys", "server", server, "err", err)
	}
}

// request sends one key request, waiting for a free fetch slot first.
func (k *Keyring) request(ctx context.Context, destination, method, path string, body any) (*Response, error) {
	select {
	case k.fetchSlots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-k.fetchSlots }()
	return k.client.DoUnauthenticated(ctx, destination, method, path, body)
}
