package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/tidwall/gjson"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/policy"
	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/storage"
)

// The outbound sender: one queue per destination server, kept in storage
// (storage.FederationQueueStore), drained by one goroutine per destination
// into PUT /_matrix/federation/v1/send/{txnId} transactions of at most 50
// PDUs and 100 EDUs.
//
// Why a queue of rows rather than a "sent up to stream position" cursor per
// destination: which servers an event goes to is decided when it is sent
// (the room's joined servers then), and a destination may leave and rejoin
// rooms while it is down; replaying a cursor would have to recompute past
// room memberships for every event since. A row per (destination, event)
// records the decision once. A row is deleted only after the destination
// acknowledged the transaction carrying it, so a destination that comes back
// is caught up from its first undelivered row, in order, and never from the
// start. PDU rows name the event; its JSON stays in the room store.
//
// Typing and presence EDUs are not worth keeping for a server that is down:
// they live in memory only and are dropped while the destination backs off.
// Every other EDU (receipts, device lists, to-device) is queued in storage.

// Transaction limits (server-server API, "Transactions").
const (
	MaxTxnPDUs = 50
	MaxTxnEDUs = 100
)

// maxEphemeralEDUs bounds the typing/presence EDUs held for one destination.
const maxEphemeralEDUs = MaxTxnEDUs

// TransactionClient sends signed federation requests; *Client is one.
type TransactionClient interface {
	Do(ctx context.Context, destination, method, path string, body any) (*Response, error)
}

// SenderRooms is what the sender asks the room server; *roomserver.RoomServer
// is one.
type SenderRooms interface {
	JoinedServers(ctx context.Context, roomID string) ([]string, error)
	Events(ctx context.Context, ids []string) ([]roomserver.EventInfo, error)
}

// SenderConfig is what NewSender needs.
type SenderConfig struct {
	ServerName string
	Store      storage.FederationQueueStore
	Rooms      SenderRooms
	Client     TransactionClient
	// Policy decides, per destination, which PDUs and EDUs may go there.
	Policy policy.Decider
	// Backoff is the retry schedule; nil means BackoffDelay.
	Backoff func(failures int) time.Duration
	// Announce makes Start send every server sharing a room with this one
	// a transaction (empty if nothing is queued for it), so that servers
	// backing off from this one retry at once (sender_announce.go).
	Announce bool
	// AnnounceJitter is the longest random delay before announcing.
	AnnounceJitter time.Duration
	Now            func() time.Time
	Logger         *slog.Logger
}

// Sender delivers PDUs and EDUs to other servers. Start it once; it is
// safe for concurrent use.
type Sender struct {
	cfg SenderConfig
	log *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// queueCtx outlives ctx by up to stopQueueTimeout: the events handed
	// over before Stop are committed, so queueing them must not be cut off
	// with the deliveries.
	queueCtx    context.Context
	queueCancel context.CancelFunc

	mu    sync.Mutex
	dests map[string]*destination

	// Events handed over by the room server listener, waiting to be
	// queued by the intake goroutine.
	intakeMu  sync.Mutex
	intake    []roomserver.PersistedEvent
	intakeNew chan struct{}

	txnNonce string
	txnCount uint64
}

// NewSender builds a sender; Start starts it.
func NewSender(cfg SenderConfig) (*Sender, error) {
	if cfg.Store == nil || cfg.Rooms == nil || cfg.Client == nil || cfg.Policy == nil {
		return nil, errors.New("federation: sender needs a store, rooms, a client and a policy")
	}
	if cfg.Backoff == nil {
		cfg.Backoff = BackoffDelay
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Sender{
		cfg: cfg, log: log, dests: map[string]*destination{},
		intakeNew: make(chan struct{}, 1),
		// Transaction IDs must not repeat those of an earlier run, whose
		// responses the destination may still remember.
		txnNonce: fmt.Sprintf("%x", cfg.Now().UnixNano()),
	}, nil
}

// Start resumes the queues left by the last run and starts taking events.
// The sender runs until ctx ends or Stop is called.
func (s *Sender) Start(ctx context.Context) error {
	s.mu.Lock()
	s.ctx, s.cancel = context.WithCancel(ctx)
	s.queueCtx, s.queueCancel = context.WithCancel(context.WithoutCancel(ctx))
	for _, d := range s.dests { // queued to before the start
		s.wg.Add(1)
		go s.run(d)
	}
	s.mu.Unlock()
	dests, err := s.cfg.Store.FederationDestinations(s.ctx)
	if err != nil {
		return fmt.Errorf("federation sender: reading queues: %w", err)
	}
	if err := s.queueOutbox(s.ctx); err != nil {
		return fmt.Errorf("federation sender: queueing the outbox: %w", err)
	}
	s.wg.Add(1)
	go s.runIntake()
	// Queues left by the last run go out now: backoff does not survive a
	// restart.
	for _, d := range dests {
		s.destination(d).poke()
	}
	if s.cfg.Announce {
		s.wg.Add(1)
		go s.announce(dests)
	}
	return nil
}

// Stop ends delivery and waits for the goroutines. Queued items stay
// queued for the next run.
func (s *Sender) Stop() {
	if s.cancel != nil {
		s.cancel()
	}
	if s.queueCancel != nil {
		defer s.queueCancel()
		defer time.AfterFunc(stopQueueTimeout, s.queueCancel).Stop()
	}
	s.wg.Wait()
}

// Wake tells the sender that origin is reachable again (it just sent us a
// request): its backoff is cleared and its queue retried now.
func (s *Sender) Wake(origin string) {
	s.mu.Lock()
	d := s.dests[origin]
	s.mu.Unlock()
	if d != nil && d.backingOff() {
		d.reset()
	}
}

// OnNewEvents implements roomserver.Listener: it hands the live, accepted
// events this server created to the intake goroutine, which queues them.
func (s *Sender) OnNewEvents(_ string, events []roomserver.PersistedEvent) {
	var mine []roomserver.PersistedEvent
	for _, ev := range events {
		if s.sendsOut(ev) {
			mine = append(mine, ev)
		}
	}
	if len(mine) == 0 {
		return
	}
	s.intakeMu.Lock()
	s.intake = append(s.intake, mine...)
	s.intakeMu.Unlock()
	select {
	case s.intakeNew <- struct{}{}:
	default:
	}
}

// sendsOut: a server sends the events it created (its own users' events)
// once they are part of the room: live, accepted, not soft-failed.
func (s *Sender) sendsOut(ev roomserver.PersistedEvent) bool {
	return ev.Origin == roomserver.OriginLocal && ev.Kind == roomserver.KindLive &&
		ev.Rejected == "" && !ev.SoftFailed && !ev.Existed && ev.Event != nil &&
		senderServer(ev.Event.Sender()) == s.cfg.ServerName
}

func (s *Sender) runIntake() {
	defer s.wg.Done()
	queueCtx := s.queueCtx
	if queueCtx == nil { // started by hand in a test
		queueCtx = s.ctx
	}
	for {
		select {
		case <-s.ctx.Done():
			// Queue what was handed over since the last intake: those
			// events are committed (requests finishing during shutdown
			// add more), and queued rows are all the next run knows to
			// send.
			s.queueEvents(queueCtx, s.takeIntake())
			return
		case <-s.intakeNew:
		}
		s.queueEvents(queueCtx, s.takeIntake())
	}
}

func (s *Sender) takeIntake() []roomserver.PersistedEvent {
	s.intakeMu.Lock()
	defer s.intakeMu.Unlock()
	batch := s.intake
	s.intake = nil
	return batch
}

// stopQueueTimeout bounds how long a stopping sender keeps trying to queue
// what it was handed last.
const stopQueueTimeout = 10 * time.Second

// queueEvents queues each event for every server joined to its room
// (after it) and, for a kick or ban, the target's server, which the event
// removed. Everything the intake took at once is stored in one write,
// which also takes the events out of the federation outbox; if that fails
// it is retried, and an event whose room could not be read stays in the
// outbox, so the next start queues it.
func (s *Sender) queueEvents(ctx context.Context, batch []roomserver.PersistedEvent) {
	if len(batch) == 0 {
		return
	}
	joined := map[string][]string{}
	now := s.cfg.Now().UnixMilli()
	var items []storage.FederationQueueItem
	var dests, done []string
	for _, pe := range batch {
		ev := pe.Event
		servers, ok := joined[ev.RoomID()]
		if !ok {
			var err error
			if servers, err = s.cfg.Rooms.JoinedServers(ctx, ev.RoomID()); err != nil {
				s.log.Error("federation sender: joined servers; event left in the outbox", "room", ev.RoomID(), "event_id", ev.EventID(), "err", err)
				continue
			}
			joined[ev.RoomID()] = servers
		}
		if removed, ok := roomserver.RemovedUser(ev); ok {
			servers = append(slices.Clip(servers), senderServer(removed))
		}
		for _, d := range s.otherServers(servers) {
			items = append(items, storage.FederationQueueItem{Destination: d, EventID: ev.EventID(), RoomID: ev.RoomID(), QueuedTS: now})
			dests = append(dests, d)
		}
		if pe.Outbound {
			done = append(done, ev.EventID())
		}
	}
	if len(items) == 0 && len(done) == 0 {
		return // a local room's events: nothing to queue, no outbox rows
	}
	for {
		err := s.cfg.Store.QueueOutbound(ctx, items, done)
		if err == nil {
			for _, d := range s.otherServers(dests) {
				s.destination(d).poke()
			}
			return
		}
		s.log.Error("federation sender: queueing events; retrying", "events", len(batch), "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// outboxPage bounds the events the start reads from the outbox at once,
// maxOutboxPages the pages (an event whose room cannot be read stays, and
// must not keep the start busy).
const (
	outboxPage     = 500
	maxOutboxPages = 200
)

// queueOutbox queues the events a crash left in the federation outbox:
// stored and acknowledged, never queued. It runs at the start, before the
// intake, so the listener's events cannot be queued twice.
func (s *Sender) queueOutbox(ctx context.Context) error {
	for range maxOutboxPages {
		ids, err := s.cfg.Store.FederationOutbox(ctx, outboxPage)
		if err != nil || len(ids) == 0 {
			return err
		}
		infos, err := s.cfg.Rooms.Events(ctx, ids)
		if err != nil {
			return err
		}
		var batch []roomserver.PersistedEvent
		var gone []string // not stored any more, or not to be sent
		found := map[string]bool{}
		for _, info := range infos {
			pe := roomserver.PersistedEvent{Event: info.Event, Origin: roomserver.OriginLocal, Kind: roomserver.KindLive,
				Rejected: info.Rejected, SoftFailed: info.SoftFailed, Outbound: true}
			found[info.Event.EventID()] = true
			if info.Outlier || !s.sendsOut(pe) {
				gone = append(gone, info.Event.EventID())
				continue
			}
			batch = append(batch, pe)
		}
		for _, id := range ids {
			if !found[id] {
				gone = append(gone, id)
			}
		}
		s.log.Info("federation sender: queueing events left unqueued by the last run", "events", len(batch))
		if err := s.cfg.Store.QueueOutbound(ctx, nil, gone); err != nil {
			return err
		}
		s.queueEvents(ctx, batch)
		if len(ids) < outboxPage {
			return nil
		}
	}
	return nil
}

// SendPDUs queues stored events of roomID for the destinations (this
// server and duplicates are skipped). The joins and leaves that arrive
// through send_join/send_leave use it to pass the event on to the rest of
// the room.
func (s *Sender) SendPDUs(ctx context.Context, roomID string, eventIDs, destinations []string) error {
	now := s.cfg.Now().UnixMilli()
	dests := s.otherServers(destinations)
	var items []storage.FederationQueueItem
	for _, d := range dests {
		for _, id := range eventIDs {
			items = append(items, storage.FederationQueueItem{Destination: d, EventID: id, RoomID: roomID, QueuedTS: now})
		}
	}
	return s.enqueue(ctx, items, dests)
}

// Ephemeral EDU types: dropped rather than kept for a destination that is down.
var ephemeralEDUs = map[string]bool{"m.typing": true, "m.presence": true}

// SendEDU queues an EDU for the destinations (this server and duplicates
// are skipped). roomID names the room it is about, if any, for the
// policy. Typing and presence are held in memory and dropped for a
// destination that is backing off; other types are stored until delivered.
func (s *Sender) SendEDU(ctx context.Context, destinations []string, eduType string, content any, roomID string) error {
	if eduType == "" {
		return errors.New("federation: EDU without a type")
	}
	raw, err := encodeBody(content)
	if err != nil {
		return err
	}
	if !gjson.ValidBytes(raw) || !gjson.ParseBytes(raw).IsObject() {
		return errors.New("federation: EDU content is not a JSON object")
	}
	now := s.cfg.Now().UnixMilli()
	dests := s.otherServers(destinations)
	var items []storage.FederationQueueItem
	for _, d := range dests {
		items = append(items, storage.FederationQueueItem{Destination: d, RoomID: roomID, EDUType: eduType, EDUContent: raw, QueuedTS: now})
	}
	if ephemeralEDUs[eduType] {
		for _, it := range items {
			s.destination(it.Destination).addEphemeral(it)
		}
		return nil
	}
	return s.enqueue(ctx, items, dests)
}

// SendRoomEDU is SendEDU to every other server joined to roomID, for EDUs
// about a room (typing, receipts).
func (s *Sender) SendRoomEDU(ctx context.Context, roomID, eduType string, content any) error {
	servers, err := s.cfg.Rooms.JoinedServers(ctx, roomID)
	if err != nil {
		return err
	}
	return s.SendEDU(ctx, servers, eduType, content, roomID)
}

func (s *Sender) enqueue(ctx context.Context, items []storage.FederationQueueItem, dests []string) error {
	if len(items) == 0 {
		return nil
	}
	if err := s.cfg.Store.EnqueueFederation(ctx, items); err != nil {
		return err
	}
	for _, d := range dests {
		s.destination(d).poke()
	}
	return nil
}

// ForwardToRoom queues an event this server accepted as the resident of
// a room (a join, leave or knock that came through send_join, send_leave
// or send_knock) for the room's other joined servers: the sender sends
// only its own users' events, and the others would not hear of this one
// otherwise. origin, which made it, is left out.
func (s *Sender) ForwardToRoom(ctx context.Context, roomID, eventID, origin string) error {
	servers, err := s.cfg.Rooms.JoinedServers(ctx, roomID)
	if err != nil {
		return err
	}
	servers = slices.DeleteFunc(servers, func(name string) bool { return name == origin })
	return s.SendPDUs(ctx, roomID, []string{eventID}, servers)
}

// otherServers returns the valid server names among names except this one,
// without duplicates.
func (s *Sender) otherServers(names []string) []string {
	seen := make(map[string]bool, len(names))
	var out []string
	for _, n := range names {
		if n == s.cfg.ServerName || seen[n] || !mxcore.ValidServerName(n) {
			continue
		}
		seen[n] = true
		out = append(out, n)
	}
	return out
}

// destination returns the queue of a server, starting its goroutine the
// first time (once the sender is started).
func (s *Sender) destination(name string) *destination {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dests[name]
	if d == nil {
		d = newDestination(name)
		s.dests[name] = d
		if s.ctx != nil {
			s.wg.Add(1)
			go s.run(d)
		}
	}
	return d
}

// senderServer is the server part of a user ID ("" if it has none).
func senderServer(userID string) string {
	u, err := mxcore.ParseUserID(userID)
	if err != nil {
		return ""
	}
	return u.Server
}

// edu is an EDU as a transaction carries it.
type edu struct {
	Type    string          `json:"edu_type"`
	Content json.RawMessage `json:"content"`
}

// transaction is the body of PUT /send/{txnId}.
type transaction struct {
	Origin         string            `json:"origin"`
	OriginServerTS int64             `json:"origin_server_ts"`
	PDUs           []json.RawMessage `json:"pdus"`
	EDUs           []edu             `json:"edus,omitempty"`
}
