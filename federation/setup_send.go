package federation

import (
	"context"
	"errors"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/warbler-im/warbler/policy"
	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/storage"
)

// TransactionsConfig is what StartTransactions needs beyond New's parts.
type TransactionsConfig struct {
	ServerName string
	Store      storage.FederationQueueStore
	Rooms      *roomserver.RoomServer
	// Policy decides what may leave for which server; required.
	Policy policy.Decider
	// Backoff is the outbound retry schedule; nil means BackoffDelay.
	Backoff func(failures int) time.Duration
}

// StartTransactions sets up both directions of transactions: the outbound
// sender, which hears of new events from the room server, is woken by any
// verified request from a server it is backing off from and announces
// this server's start to the servers it shares rooms with, and the
// inbound /send endpoint (Routes.Inbound, mounted by MountOwnLimits). The
// sender runs until ctx ends or its Stop is called.
func (f *Federation) StartTransactions(ctx context.Context, cfg TransactionsConfig) (*Sender, *Inbound, error) {
	if cfg.Rooms == nil || cfg.Policy == nil {
		return nil, nil, errors.New("federation: transactions need the room server and a policy")
	}
	sender, err := NewSender(SenderConfig{
		ServerName: cfg.ServerName, Store: cfg.Store, Rooms: cfg.Rooms, Client: f.Client, Policy: cfg.Policy,
		Backoff: cfg.Backoff, Announce: true, AnnounceJitter: DefaultAnnounceJitter,
	})
	if err != nil {
		return nil, nil, err
	}
	inbound, err := NewInbound(InboundConfig{ServerName: cfg.ServerName, Store: cfg.Store, Rooms: cfg.Rooms, Keys: f.Keyring, Client: f.Client})
	if err != nil {
		return nil, nil, err
	}
	f.Routes.Inbound = inbound
	if f.Routes.Auth != nil {
		f.Routes.Auth.Seen = sender.Wake
	}
	cfg.Rooms.AddListener(sender)
	if err := sender.Start(ctx); err != nil {
		return nil, nil, err
	}
	return sender, inbound, nil
}

// MountOwnLimits registers the federation endpoints whose bodies have a
// limit of their own (inbound transactions), so the caller must mount
// them outside its generic body limit.
func (rt *Routes) MountOwnLimits(r chi.Router) {
	if rt.Inbound != nil && rt.Auth != nil {
		rt.Inbound.Mount(r, rt.Auth)
	}
}
