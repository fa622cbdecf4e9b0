package pushgw

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/warbler-im/warbler/internal/netguard"
	"github.com/warbler-im/warbler/policy"
)

// Config shapes a Sender. Zero values take the defaults below.
type Config struct {
	// AllowedNetworks are CIDRs gateways may be reached at although they
	// are loopback, private or link-local.
	AllowedNetworks []string
	// Timeout bounds one request, connection to response body.
	Timeout time.Duration
	// QueueSize bounds each pusher's backlog; beyond it the oldest
	// notification is dropped.
	QueueSize int
	// RetryBase and RetryMax shape the backoff after a failed request:
	// the n-th retry waits RetryBase × 2^(n-1), at most RetryMax.
	RetryBase, RetryMax time.Duration
	// GiveUpAfter is how long a notification is retried before it is
	// dropped.
	GiveUpAfter time.Duration
	// MaxInFlight bounds concurrent requests across all pushers.
	MaxInFlight int
	// Policy decides whether a notification may leave; nil allows all.
	Policy policy.Decider
	// OnRejected is called when a gateway rejects a pusher's pushkey; the
	// caller deletes the pusher.
	OnRejected func(ctx context.Context, t Target)
	// DialAddr, if set, replaces the dialling of checked addresses (tests).
	DialAddr func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Defaults of Config.
const (
	DefaultTimeout     = 10 * time.Second
	DefaultQueueSize   = 100
	DefaultRetryBase   = time.Second
	DefaultRetryMax    = 10 * time.Minute
	DefaultGiveUpAfter = time.Hour
	DefaultMaxInFlight = 32
	// maxResponseBytes bounds how much of a gateway's answer is read.
	maxResponseBytes = 64 << 10
)

func (c *Config) fill() {
	setDefault(&c.Timeout, DefaultTimeout)
	setDefault(&c.RetryBase, DefaultRetryBase)
	setDefault(&c.RetryMax, DefaultRetryMax)
	setDefault(&c.GiveUpAfter, DefaultGiveUpAfter)
	if c.QueueSize <= 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.Policy == nil {
		c.Policy = policy.AllowAll{}
	}
}

func setDefault(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}

// Stats counts what happened to enqueued notifications.
type Stats struct {
	Sent     int64 // accepted by a gateway
	Failed   int64 // requests that failed (each retry counts)
	Dropped  int64 // pushed out of a full queue, or given up on
	Denied   int64 // refused by the policy
	Rejected int64 // pushkeys a gateway rejected
}

// Sender delivers notifications to push gateways.
type Sender struct {
	cfg      Config
	client   *http.Client
	inFlight chan struct{}
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	mu     sync.Mutex
	queues map[pusherKey]*queue
	closed bool

	sent, failed, dropped, denied, rejected atomic.Int64
}

// queue is one pusher's backlog. A worker goroutine runs while it has
// items and exits when it is empty.
type queue struct {
	target  Target
	items   []item
	running bool
	gone    bool // the pushkey was rejected: drop everything
}

type item struct {
	n        Notification
	enqueued time.Time
}

// New builds a Sender; Close stops it.
func New(cfg Config) (*Sender, error) {
	cfg.fill()
	guard, err := netguard.New(cfg.AllowedNetworks)
	if err != nil {
		return nil, fmt.Errorf("push.allowed_networks: %w", err)
	}
	dialer := &netguard.Dialer{Guard: guard, Timeout: cfg.Timeout}
	if cfg.DialAddr != nil {
		dialer.DialAddr = cfg.DialAddr
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Sender{
		cfg: cfg, inFlight: make(chan struct{}, cfg.MaxInFlight), ctx: ctx, cancel: cancel,
		queues: map[pusherKey]*queue{},
		client: &http.Client{
			Timeout: cfg.Timeout,
			Transport: &http.Transport{
				Proxy:                 nil, // a proxy would connect for us, unchecked
				DialContext:           dialer.DialContext,
				ForceAttemptHTTP2:     true,
				TLSHandshakeTimeout:   cfg.Timeout,
				ResponseHeaderTimeout: cfg.Timeout,
				MaxIdleConnsPerHost:   4,
				IdleConnTimeout:       90 * time.Second,
			},
			// A redirect is a failure: the pusher's URL is the gateway.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	return s, nil
}

// Stats returns the counters so far.
func (s *Sender) Stats() Stats {
	return Stats{Sent: s.sent.Load(), Failed: s.failed.Load(), Dropped: s.dropped.Load(),
		Denied: s.denied.Load(), Rejected: s.rejected.Load()}
}

// Enqueue queues n for t and returns at once; it never waits for the
// network.
func (s *Sender) Enqueue(t Target, n Notification) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	k := t.key()
	q := s.queues[k]
	if q == nil {
		q = &queue{}
		s.queues[k] = q
	}
	q.target = t // the latest URL and data win
	q.items = append(q.items, item{n: n, enqueued: time.Now()})
	if over := len(q.items) - s.cfg.QueueSize; over > 0 {
		q.items = append(q.items[:0:0], q.items[over:]...)
		s.dropped.Add(int64(over))
	}
	if !q.running {
		q.running = true
		s.wg.Add(1)
		go s.work(k, q)
	}
}

// Close stops delivery; queued notifications are dropped.
func (s *Sender) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
}

// work sends q's items in order until it is empty.
func (s *Sender) work(k pusherKey, q *queue) {
	defer s.wg.Done()
	for {
		it, t, ok := s.next(k, q)
		if !ok {
			return
		}
		s.deliver(q, t, it)
	}
}

// next pops q's oldest item, or retires the worker (and the queue) when
// there is none.
func (s *Sender) next(k pusherKey, q *queue) (item, Target, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(q.items) == 0 || q.gone || s.ctx.Err() != nil {
		if q.gone {
			s.dropped.Add(int64(len(q.items))) // queued after the rejection
		}
		q.running = false
		if s.queues[k] == q {
			delete(s.queues, k)
		}
		return item{}, Target{}, false
	}
	it := q.items[0]
	q.items = q.items[1:]
	return it, q.target, true
}

// deliver sends one notification, retrying with backoff until it is
// accepted, rejected, denied, or too old.
func (s *Sender) deliver(q *queue, t Target, it item) {
	if !s.allowed(t, it.n) {
		s.denied.Add(1)
		return
	}
	body, err := Body(it.n, t)
	if err != nil {
		s.dropped.Add(1)
		return
	}
	for attempt := 0; ; attempt++ {
		rejected, err := s.post(t, body)
		if err == nil {
			s.sent.Add(1)
			if rejected {
				s.reject(q, t)
			}
			return
		}
		s.failed.Add(1)
		slog.Debug("push: gateway request failed", "user", t.UserID, "app_id", t.AppID, "attempt", attempt+1, "err", err)
		if time.Since(it.enqueued) >= s.cfg.GiveUpAfter || !s.sleep(backoff(s.cfg.RetryBase, s.cfg.RetryMax, attempt)) {
			s.dropped.Add(1)
			return
		}
	}
}

// allowed asks the policy whether n may go to t's gateway.
func (s *Sender) allowed(t Target, n Notification) bool {
	u, err := url.Parse(t.URL)
	if err != nil {
		return false
	}
	ok, reasons := policy.Allowed(s.ctx, s.cfg.Policy, policy.Input{
		Action: policy.ActionPushNotify, Server: u.Host, RoomID: n.RoomID, UserID: t.UserID, EventType: n.Type,
	})
	if !ok {
		slog.Info("push: notification denied by policy", "user", t.UserID, "room", n.RoomID, "reasons", reasons)
	}
	return ok
}

// reject marks the pusher gone and tells the owner to delete it.
func (s *Sender) reject(q *queue, t Target) {
	s.rejected.Add(1)
	s.mu.Lock()
	q.gone = true
	s.dropped.Add(int64(len(q.items)))
	q.items = nil
	s.mu.Unlock()
	slog.Info("push: gateway rejected a pushkey; deleting the pusher", "user", t.UserID, "app_id", t.AppID)
	if s.cfg.OnRejected != nil {
		s.cfg.OnRejected(s.ctx, t)
	}
}

// sleep waits d, false if the sender closed meanwhile.
func (s *Sender) sleep(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-s.ctx.Done():
		return false
	}
}

// backoff is base × 2^attempt, at most max.
func backoff(base, max time.Duration, attempt int) time.Duration {
	d := base
	for i := 0; i < attempt && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

// errStatus is a gateway's non-2xx answer.
var errStatus = errors.New("push gateway answered with an error status")

// post sends body to t's gateway and reports whether the gateway rejected
// t's pushkey.
func (s *Sender) post(t Target, body []byte) (rejected bool, err error) {
	select {
	case s.inFlight <- struct{}{}:
		defer func() { <-s.inFlight }()
	case <-s.ctx.Done():
		return false, s.ctx.Err()
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return false, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return false, fmt.Errorf("%w: %d", errStatus, resp.StatusCode)
	}
	var answer struct {
		Rejected []string `json:"rejected"`
	}
	_ = json.Unmarshal(raw, &answer) // a 2xx without a readable list rejects nothing
	for _, k := range answer.Rejected {
		if k == t.PushKey {
			return true, nil
		}
	}
	return false, nil
}
