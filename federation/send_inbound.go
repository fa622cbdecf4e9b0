package federation

import (
	"context"
	"encoding/json"
	"errors"
	"hash/fnv"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/storage"
)

// Inbound transactions: PUT /_matrix/federation/v1/send/{txnId}.

// MaxTransactionBytes bounds the body of an inbound transaction. A full
// one holds 50 PDUs of up to 65536 bytes (3.2 MiB as canonical JSON, more
// when the sender escapes characters canonical JSON would not) and 100
// EDUs, whose size the spec leaves open (to-device messages carry
// encrypted payloads); 8 MiB leaves room for both without letting one
// request tie up much memory. http.max_request_bytes (1 MiB by default)
// would refuse legitimate full transactions.
const MaxTransactionBytes = 8 << 20

// How long responses to inbound transactions are remembered for repeats.
const (
	inboundTxnRetention = 24 * time.Hour
	inboundTxnPruneGap  = time.Hour
)

// EDUHandler applies one type of EDU. Features (typing, receipts,
// presence, device lists, signing keys, to-device) register theirs with
// Inbound.HandleEDU. An error is logged; it does not fail the transaction.
type EDUHandler interface {
	HandleEDU(ctx context.Context, origin string, content json.RawMessage) error
}

// EDUHandlerFunc adapts a function to EDUHandler.
type EDUHandlerFunc func(ctx context.Context, origin string, content json.RawMessage) error

// HandleEDU implements EDUHandler.
func (f EDUHandlerFunc) HandleEDU(ctx context.Context, origin string, content json.RawMessage) error {
	return f(ctx, origin, content)
}

// InboundRooms is what inbound transactions need of the room server;
// *roomserver.RoomServer is one.
type InboundRooms interface {
	RoomVersion(ctx context.Context, roomID string) (mxcore.RoomVersion, error)
	Persist(ctx context.Context, roomID string, inputs []roomserver.InputEvent) ([]roomserver.InputResult, error)
	ForwardExtremities(ctx context.Context, roomID string) ([]string, error)
	Events(ctx context.Context, ids []string) ([]roomserver.EventInfo, error)
	ServerAllowedInRoom(ctx context.Context, roomID, serverName string) (bool, error)
}

// InboundTxnStore remembers the responses to inbound transactions.
type InboundTxnStore interface {
	InboundTxnResponse(ctx context.Context, origin, txnID string) ([]byte, error)
	StoreInboundTxnResponse(ctx context.Context, origin, txnID string, response []byte, receivedTS int64) error
	PruneInboundTxns(ctx context.Context, beforeTS int64) error
}

// InboundConfig is what NewInbound needs.
type InboundConfig struct {
	ServerName string
	Store      InboundTxnStore
	Rooms      InboundRooms
	// Keys verifies the signatures on received PDUs.
	Keys SignatureVerifier
	// Client fetches missing events from the sending server.
	Client TransactionClient
	Now    func() time.Time
	Logger *slog.Logger
}

// Inbound receives transactions from other servers.
type Inbound struct {
	cfg InboundConfig
	log *slog.Logger

	eduMu sync.RWMutex
	edus  map[string]EDUHandler

	// originLocks serialise transactions per origin (hashed onto a fixed
	// set), so a repeat arriving while the first is processed waits for
	// its stored response instead of processing it again.
	originLocks [64]sync.Mutex
	lastPrune   atomic.Int64
}

// NewInbound builds the /send handler.
func NewInbound(cfg InboundConfig) (*Inbound, error) {
	if cfg.Store == nil || cfg.Rooms == nil || cfg.Keys == nil || cfg.Client == nil {
		return nil, errors.New("federation: inbound transactions need a store, rooms, keys and a client")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Inbound{cfg: cfg, log: log, edus: map[string]EDUHandler{}}, nil
}

// HandleEDU registers h for EDUs of eduType, replacing any earlier one.
// EDUs of types nobody registered are ignored.
func (in *Inbound) HandleEDU(eduType string, h EDUHandler) {
	in.eduMu.Lock()
	defer in.eduMu.Unlock()
	in.edus[eduType] = h
}

// Mount registers PUT /send/{txnId} on r, outside any generic body limit:
// it has its own (MaxTransactionBytes), and auth verifies its signature.
func (in *Inbound) Mount(r chi.Router, auth *Authenticator) {
	h := auth.Middleware(mxhttp.JSON(in.ServeSend))
	r.With(mxhttp.LimitBody(MaxTransactionBytes)).Method(http.MethodPut, "/_matrix/federation/v1/send/{txnId}", h)
}

// incomingTxn is the body of a transaction.
type incomingTxn struct {
	Origin         string            `json:"origin"`
	OriginServerTS int64             `json:"origin_server_ts"`
	PDUs           []json.RawMessage `json:"pdus"`
	EDUs           []json.RawMessage `json:"edus"`
}

// ServeSend handles one transaction from the authenticated origin.
func (in *Inbound) ServeSend(r *http.Request) (any, error) {
	origin := Origin(r.Context())
	txnID := chi.URLParam(r, "txnId")
	if origin == "" {
		return nil, unauthorized("Request is not authenticated")
	}
	if txnID == "" || len(txnID) > 255 {
		return nil, mxcore.InvalidParam("Bad transaction ID")
	}
	var txn incomingTxn
	if err := mxhttp.DecodeJSON(r, &txn); err != nil {
		return nil, err
	}
	if err := checkTxn(txn, origin); err != nil {
		return nil, err
	}
	lock := &in.originLocks[originShard(origin)]
	lock.Lock()
	defer lock.Unlock()
	ctx := r.Context()
	if prev, err := in.cfg.Store.InboundTxnResponse(ctx, origin, txnID); err == nil {
		return json.RawMessage(prev), nil
	} else if !errors.Is(err, storage.ErrNotFound) {
		return nil, err
	}
	resp, err := in.process(ctx, origin, txn)
	if err != nil || ctx.Err() != nil {
		// Not remembered: the origin retries and gets it processed.
		in.log.Error("federation: transaction not processed", "origin", origin, "txn_id", txnID, "err", errors.Join(err, ctx.Err()))
		return nil, mxcore.Internal()
	}
	body, err := json.Marshal(resp)
	if err != nil {
		return nil, err
	}
	if err := in.cfg.Store.StoreInboundTxnResponse(context.WithoutCancel(ctx), origin, txnID, body, in.cfg.Now().UnixMilli()); err != nil {
		in.log.Warn("federation: remembering a transaction's response", "origin", origin, "err", err)
	}
	in.maybePrune(ctx)
	return json.RawMessage(body), nil
}

// checkTxn applies the spec's limits and checks the body names the
// origin that signed the request.
func checkTxn(txn incomingTxn, origin string) error {
	switch {
	case txn.PDUs == nil:
		return mxcore.BadJSON("pdus is required")
	case len(txn.PDUs) > MaxTxnPDUs:
		return mxcore.BadJSON("A transaction may hold at most 50 PDUs")
	case len(txn.EDUs) > MaxTxnEDUs:
		return mxcore.BadJSON("A transaction may hold at most 100 EDUs")
	case txn.Origin != origin:
		return mxcore.BadJSON("origin does not match the server that signed the request")
	}
	return nil
}

func originShard(origin string) int {
	h := fnv.New32a()
	h.Write([]byte(origin))
	return int(h.Sum32() % 64)
}

// txnResponse is the body of the answer: a result per PDU.
type txnResponse struct {
	PDUs map[string]pduResult `json:"pdus"`
}

type pduResult struct {
	Error string `json:"error,omitempty"`
}

// process handles the PDUs, then the EDUs, of a transaction.
func (in *Inbound) process(ctx context.Context, origin string, txn incomingTxn) (txnResponse, error) {
	resp := txnResponse{PDUs: make(map[string]pduResult, len(txn.PDUs))}
	if err := in.processPDUs(ctx, origin, txn.PDUs, resp.PDUs); err != nil {
		return resp, err
	}
	in.processEDUs(ctx, origin, txn.EDUs)
	return resp, nil
}

// processEDUs hands each EDU to the handler of its type.
func (in *Inbound) processEDUs(ctx context.Context, origin string, edus []json.RawMessage) {
	for _, raw := range edus {
		var e edu
		if json.Unmarshal(raw, &e) != nil || e.Type == "" {
			continue
		}
		in.eduMu.RLock()
		h := in.edus[e.Type]
		in.eduMu.RUnlock()
		if h == nil {
			continue
		}
		if err := h.HandleEDU(ctx, origin, e.Content); err != nil {
			in.log.Info("federation: EDU not applied", "origin", origin, "edu_type", e.Type, "err", err)
		}
	}
}

// maybePrune forgets old transaction responses, at most once an hour.
func (in *Inbound) maybePrune(ctx context.Context) {
	now := in.cfg.Now()
	last := in.lastPrune.Load()
	if now.Sub(time.UnixMilli(last)) < inboundTxnPruneGap || !in.lastPrune.CompareAndSwap(last, now.UnixMilli()) {
		return
	}
	if err := in.cfg.Store.PruneInboundTxns(context.WithoutCancel(ctx), now.Add(-inboundTxnRetention).UnixMilli()); err != nil {
		in.log.Warn("federation: pruning remembered transactions", "err", err)
	}
}
