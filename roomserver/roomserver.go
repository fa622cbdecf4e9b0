package roomserver

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/warbler-im/warbler/internal/lru"
	"github.com/warbler-im/warbler/mxcore"
)

// Config configures a RoomServer.
type Config struct {
	// ServerName is this server's name: local senders are on it and local
	// events are signed as it.
	ServerName string
	// KeyID and PrivateKey are the ed25519 key local events are signed
	// with, e.g. "ed25519:a_AbCd".
	KeyID      string
	PrivateKey ed25519.PrivateKey
	// Now is the clock for origin_server_ts; time.Now when nil.
	Now func() time.Time
	// Cache sizes; zero picks the default.
	EventCacheSize    int // parsed events (default 20000)
	SnapshotCacheSize int // stored state snapshots (default 256)
	RoomCacheSize     int // rooms' current state (default 1000)
	// Logger receives warnings about work after a commit that could not
	// be finished (the commit itself stands); slog.Default when nil.
	Logger *slog.Logger
}

// RoomServer is the room DAG of this server: it builds local events, runs
// the one persist pipeline every event enters a room through, and answers
// questions about room state. It is safe for concurrent use.
type RoomServer struct {
	store     Store
	cfg       Config
	log       *slog.Logger
	locks     roomLocks
	events    *lru.Cache[string, *eventMeta]
	snapshots *lru.Cache[int64, *stateSet]
	rooms     *lru.Cache[string, *roomState]
	versions  *lru.Cache[string, mxcore.RoomVersion]

	listenersMu sync.RWMutex
	listeners   []Listener
}

// New returns a RoomServer over store.
func New(store Store, cfg Config) (*RoomServer, error) {
	if store == nil {
		return nil, errors.New("roomserver: nil store")
	}
	if !mxcore.ValidServerName(cfg.ServerName) {
		return nil, fmt.Errorf("roomserver: invalid server name %q", cfg.ServerName)
	}
	if _, err := mxcore.ParseKeyID(cfg.KeyID); err != nil || len(cfg.PrivateKey) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("roomserver: need an ed25519 signing key and its key ID (%q)", cfg.KeyID)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &RoomServer{
		store:     store,
		cfg:       cfg,
		log:       log,
		events:    lru.New[string, *eventMeta](orDefault(cfg.EventCacheSize, 20000)),
		snapshots: lru.New[int64, *stateSet](orDefault(cfg.SnapshotCacheSize, 256)),
		rooms:     lru.New[string, *roomState](orDefault(cfg.RoomCacheSize, 1000)),
		versions:  lru.New[string, mxcore.RoomVersion](orDefault(cfg.RoomCacheSize, 1000) * 4),
	}, nil
}

func orDefault(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}

// Listener is told about events once they are durable. Sync, the
// federation sender and the appservice pusher subscribe through it.
type Listener interface {
	// OnNewEvents is called after each commit with the events that commit
	// stored (not those that already existed), in persist order, including
	// rejected, soft-failed, outlier and backfilled ones: the flags on each
	// say which; most listeners skip all but live, accepted events. Calls
	// for one room come in commit order, under the room's write lock, so
	// OnNewEvents must return quickly (hand off to a queue or wake waiters)
	// and must not write to the same room (that would wait for itself).
	// Reading through the RoomServer is safe but best left to the woken
	// goroutines.
	OnNewEvents(roomID string, events []PersistedEvent)
}

// AddListener registers l for every later commit.
func (rs *RoomServer) AddListener(l Listener) {
	rs.listenersMu.Lock()
	defer rs.listenersMu.Unlock()
	rs.listeners = append(rs.listeners, l)
}

func (rs *RoomServer) notify(roomID string, events []PersistedEvent) {
	if len(events) == 0 {
		return
	}
	rs.listenersMu.RLock()
	defer rs.listenersMu.RUnlock()
	for _, l := range rs.listeners {
		l.OnNewEvents(roomID, events)
	}
}
