package storage

import "context"

// FederationQueueItem is one PDU or EDU waiting to go to one destination
// server. A PDU is named by its event ID (the event itself is in the room
// store); an EDU carries its type and content.
type FederationQueueItem struct {
	// Seq orders the queue; storage assigns it on EnqueueFederation and
	// never reuses one, so a retried batch is recognisable by its Seqs.
	Seq         int64
	Destination string
	// EventID is set for a PDU, EDUType (and EDUContent) for an EDU.
	EventID    string
	RoomID     string // the PDU's room, or the room an EDU is about; may be ""
	EDUType    string
	EDUContent []byte // a JSON object
	QueuedTS   int64  // Unix milliseconds
}

// IsEDU tells EDU items from PDU items.
func (it FederationQueueItem) IsEDU() bool { return it.EDUType != "" }

// FederationQueueStore keeps the outbound federation queues, one per
// destination, so that what was not delivered survives a restart, and the
// responses to inbound transactions, so that a repeated transaction is
// answered without being processed twice.
type FederationQueueStore interface {
	// EnqueueFederation appends items (each names its destination) in one
	// transaction, assigning Seqs in the order given.
	EnqueueFederation(ctx context.Context, items []FederationQueueItem) error
	// PendingFederation returns the oldest maxPDUs PDU items and the oldest
	// maxEDUs EDU items queued for destination, together in Seq order.
	PendingFederation(ctx context.Context, destination string, maxPDUs, maxEDUs int) ([]FederationQueueItem, error)
	// DeleteFederation removes delivered (or abandoned) items of
	// destination; Seqs that are not queued are ignored.
	DeleteFederation(ctx context.Context, destination string, seqs []int64) error
	// FederationDestinations lists, sorted, the destinations that have
	// items queued.
	FederationDestinations(ctx context.Context) ([]string, error)
	// QueueOutbound appends items like EnqueueFederation and, in the same
	// transaction, removes the events outboxIDs from the federation outbox
	// (the Outbound events whose items these are; events with no other
	// server to go to are removed with no items).
	QueueOutbound(ctx context.Context, items []FederationQueueItem, outboxIDs []string) error
	// FederationOutbox lists, oldest first, at most limit events still in
	// the outbox: stored, but not yet queued when the last process ended.
	FederationOutbox(ctx context.Context, limit int) ([]string, error)
	// PeerServers lists, sorted, at most limit servers other than server
	// that have joined members in a room where server has some too: the
	// servers a restarting server tells it is back.
	PeerServers(ctx context.Context, server string, limit int) ([]string, error)

	// InboundTxnResponse returns the response stored for the transaction
	// txnID of origin; ErrNotFound if there is none.
	InboundTxnResponse(ctx context.Context, origin, txnID string) ([]byte, error)
	// StoreInboundTxnResponse records the response to a transaction; a
	// transaction already recorded keeps its first response.
	StoreInboundTxnResponse(ctx context.Context, origin, txnID string, response []byte, receivedTS int64) error
	// PruneInboundTxns forgets transactions received before beforeTS.
	PruneInboundTxns(ctx context.Context, beforeTS int64) error
}
