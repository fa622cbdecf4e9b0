package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"

	"github.com/go-chi/chi/v5"

	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

// Notary answers /_matrix/key/v2/query: other servers' key documents,
// from the keyring's cache or fetched for the asker, countersigned by us.
type Notary struct {
	Keyring *Keyring
	// Self signs the answers and serves our own document.
	Self *KeyServer
}

// maxNotaryQueryServers bounds the servers one POST may ask about, since
// each may cost a fetch. Servers joining a big room ask for many at once.
const maxNotaryQueryServers = 1000

// NotaryResponse returns server's newest key document, signed by server
// alone, for a notary to hand on. It is first refetched from the server
// if it is not valid until minValidTS or is past half its lifetime (the
// spec's advice to notaries); if that fails, the last document is still
// returned, so that old events stay verifiable. false: none is known.
func (k *Keyring) NotaryResponse(ctx context.Context, server string, minValidTS int64) ([]byte, bool) {
	k.ensureLoaded(ctx, server)
	doc := k.response(server)
	if !k.fresh(doc, minValidTS) {
		_ = k.refresh(ctx, server, keyNeed{minValidTS: minValidTS}, false)
		doc = k.response(server)
	}
	return doc.JSON, len(doc.JSON) > 0
}

func (k *Keyring) fresh(doc storage.RemoteKeyResponse, minValidTS int64) bool {
	halfLife := doc.FetchedTS + (doc.ValidUntilTS-doc.FetchedTS)/2
	return len(doc.JSON) > 0 && doc.ValidUntilTS >= minValidTS && k.now().UnixMilli() <= halfLife
}

func (k *Keyring) response(server string) storage.RemoteKeyResponse {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if s := k.servers[server]; s != nil {
		return s.response
	}
	return storage.RemoteKeyResponse{}
}

// ServeQueryOne answers GET /_matrix/key/v2/query/{serverName}.
func (n *Notary) ServeQueryOne(r *http.Request) (any, error) {
	server := chi.URLParam(r, "serverName")
	if !mxcore.ValidServerName(server) {
		return nil, mxcore.InvalidParam("serverName is not a server name")
	}
	minValid, err := n.minimumValidUntil(r.URL.Query().Get("minimum_valid_until_ts"))
	if err != nil {
		return nil, err
	}
	return n.answer(r.Context(), map[string]int64{server: minValid})
}

// ServeQuery answers POST /_matrix/key/v2/query.
func (n *Notary) ServeQuery(r *http.Request) (any, error) {
	var body struct {
		ServerKeys map[string]map[string]struct {
			MinimumValidUntilTS *int64 `json:"minimum_valid_until_ts"`
		} `json:"server_keys"`
	}
	if err := mxhttp.DecodeJSON(r, &body); err != nil {
		return nil, err
	}
	if body.ServerKeys == nil {
		return nil, mxcore.MissingParam("server_keys is required")
	}
	if len(body.ServerKeys) > maxNotaryQueryServers {
		return nil, mxcore.InvalidParam(fmt.Sprintf("at most %d servers per query", maxNotaryQueryServers))
	}
	now := n.Keyring.now().UnixMilli()
	wanted := map[string]int64{}
	for server, keys := range body.ServerKeys {
		// One document answers for every key of a server, so it must
		// satisfy the most demanding criterion.
		wanted[server] = now
		for _, criteria := range keys {
			if criteria.MinimumValidUntilTS != nil {
				wanted[server] = max(wanted[server], *criteria.MinimumValidUntilTS)
			}
		}
	}
	return n.answer(r.Context(), wanted)
}

func (n *Notary) minimumValidUntil(param string) (int64, error) {
	if param == "" {
		return n.Keyring.now().UnixMilli(), nil
	}
	ts, err := strconv.ParseInt(param, 10, 64)
	if err != nil {
		return 0, mxcore.InvalidParam("minimum_valid_until_ts must be an integer")
	}
	return ts, nil
}

// answer gathers and countersigns the documents of the wanted servers,
// fetching those concurrently; servers without one are left out.
func (n *Notary) answer(ctx context.Context, wanted map[string]int64) (any, error) {
	docs := make([]json.RawMessage, 0, len(wanted))
	var mu sync.Mutex
	var wg sync.WaitGroup
	var errs []error
	for server, minValid := range wanted {
		wg.Go(func() {
			doc, err := n.document(ctx, server, minValid)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			} else if doc != nil {
				docs = append(docs, doc)
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return map[string]any{"server_keys": docs}, nil
}

// document is server's countersigned document, or nil if there is none.
// Our own is signed by us already.
func (n *Notary) document(ctx context.Context, server string, minValid int64) (json.RawMessage, error) {
	if server == n.Self.ServerName {
		return n.Self.Response(ctx)
	}
	if !mxcore.ValidServerName(server) {
		return nil, nil
	}
	doc, ok := n.Keyring.NotaryResponse(ctx, server, minValid)
	if !ok {
		return nil, nil
	}
	signed, err := mxcore.SignJSON(doc, n.Self.ServerName, n.Self.KeyID, n.Self.Private)
	if err != nil {
		return nil, fmt.Errorf("countersigning keys of %s: %w", server, err)
	}
	return signed, nil
}
