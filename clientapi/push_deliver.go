package clientapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/tidwall/gjson"
	"github.com/warbler-im/warbler/internal/lru"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/pushgw"
	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/storage"
)

// PushSender delivers notifications to push gateways (pushgw.Sender);
// Enqueue must return at once.
type PushSender interface {
	Enqueue(t pushgw.Target, n pushgw.Notification)
}

// pushDeliverer turns notifying push actions into gateway notifications
// (push module, "Server behaviour": "Making a request to the configured
// push gateway"). The push listener runs under the room's write lock, so
// it only hands a job to this queue; one goroutine reads pushers, room
// facts and counts and passes the notifications to the PushSender, which
// owns the network. A full queue drops jobs (counted in dropped).
type pushDeliverer struct {
	api     *API
	sender  PushSender
	jobs    chan pushJob
	dropped atomic.Int64

	// pushers caches users' http pushers: most notified users have none,
	// and a message in a big room notifies every member. Changes through
	// /pushers/set and rejections invalidate it (pushersGen makes a read
	// that raced an invalidation not cache what it read); pusherCacheTTL
	// bounds what another process's changes can leave stale.
	pushers    *lru.Cache[string, cachedTargets]
	pushersGen atomic.Int64
	// badges is the unread total last sent to each user's pushers, so a
	// receipt that changes nothing sends no badge update.
	badges *lru.Cache[string, int]
}

type cachedTargets struct {
	targets []pusherTarget
	at      time.Time
}

// pusherTarget is a gateway target and when its pusher was set (unix ms).
type pusherTarget struct {
	pushgw.Target
	createdMS int64
}

// pushJob is one event's notifying actions, or (ev nil) a badge update
// for one user whose counts a receipt changed.
type pushJob struct {
	roomID  string
	ev      *mxcore.PDU
	actions []storage.PushAction
	badgeOf string
}

const (
	pushJobQueue     = 1024
	pusherCacheUsers = 20000
	pusherCacheTTL   = 30 * time.Second
	badgeCacheUsers  = 20000
	// pushJobTimeout bounds the reads of one job.
	pushJobTimeout = 10 * time.Second
)

func newPushDeliverer(a *API, sender PushSender) *pushDeliverer {
	return &pushDeliverer{api: a, sender: sender, jobs: make(chan pushJob, pushJobQueue),
		pushers: lru.New[string, cachedTargets](pusherCacheUsers), badges: lru.New[string, int](badgeCacheUsers)}
}

// forgetPushers drops cached pushers: userID's, or ("") everyone's.
func (d *pushDeliverer) forgetPushers(userID string) {
	d.pushersGen.Add(1)
	if userID == "" {
		d.pushers.Purge()
	} else {
		d.pushers.Remove(userID)
	}
}

// offer queues a job without waiting.
func (d *pushDeliverer) offer(j pushJob) {
	select {
	case d.jobs <- j:
	default:
		if d.dropped.Add(1)%100 == 1 {
			slog.Warn("push: delivery queue full; notifications dropped", "dropped_total", d.dropped.Load())
		}
	}
}

// run handles jobs until ctx ends.
func (d *pushDeliverer) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-d.jobs:
			jctx, cancel := context.WithTimeout(ctx, pushJobTimeout)
			if j.ev == nil {
				d.badge(jctx, j.badgeOf)
			} else {
				d.event(jctx, j)
			}
			cancel()
		}
	}
}

// event sends the notifications of one event to its notified users'
// http pushers.
func (d *pushDeliverer) event(ctx context.Context, j pushJob) {
	var facts *roomFacts
	for _, act := range j.actions {
		targets := d.targets(ctx, act.UserID)
		if len(targets) == 0 {
			continue
		}
		if facts == nil {
			facts = d.roomFacts(ctx, j.roomID, j.ev.Sender())
		}
		n := notificationOf(j.ev, act, facts)
		n.Counts.Unread = d.unreadTotal(ctx, act.UserID)
		d.badges.Put(act.UserID, n.Counts.Unread)
		for _, t := range targets {
			// A pusher gets the notifications of events that arrive
			// after it was set, not those still queued from before.
			if act.TS >= t.createdMS {
				d.sender.Enqueue(t.Target, n)
			}
		}
	}
}

// badge sends a counts-only notification (no event_id: the push gateway
// API allows "notifications that only contain updated badge counts"), so
// a device's badge drops when its user reads elsewhere.
func (d *pushDeliverer) badge(ctx context.Context, userID string) {
	targets := d.targets(ctx, userID)
	if len(targets) == 0 {
		return
	}
	n := pushgw.Notification{Counts: pushgw.Counts{Unread: d.unreadTotal(ctx, userID)}}
	if last, ok := d.badges.Get(userID); ok && last == n.Counts.Unread {
		return
	}
	d.badges.Put(userID, n.Counts.Unread)
	for _, t := range targets {
		d.sender.Enqueue(t.Target, n)
	}
}

// targets are the user's http pushers.
func (d *pushDeliverer) targets(ctx context.Context, userID string) []pusherTarget {
	if c, ok := d.pushers.Get(userID); ok && time.Since(c.at) < pusherCacheTTL {
		return c.targets
	}
	gen := d.pushersGen.Load()
	ps, err := d.api.Store.Pushers(ctx, userID)
	if err != nil {
		slog.Warn("push: reading pushers failed", "user", userID, "err", err)
		return nil
	}
	out := httpTargets(userID, ps)
	if d.pushersGen.Load() == gen {
		d.pushers.Put(userID, cachedTargets{out, time.Now()})
	}
	return out
}

func httpTargets(userID string, ps []storage.Pusher) []pusherTarget {
	var out []pusherTarget
	for _, p := range ps {
		if p.Kind != "http" {
			continue // email pushers are not delivered (no mail sender)
		}
		u := gjson.GetBytes(p.Data, "url").Str
		if _, err := url.Parse(u); err != nil || u == "" {
			continue
		}
		out = append(out, pusherTarget{pushgw.Target{UserID: userID, AppID: p.AppID, PushKey: p.PushKey, URL: u,
			PushKeyTS: p.CreatedTS / 1000, Data: p.Data}, p.CreatedTS})
	}
	return out
}

// unreadTotal is the user's unread notifications over all rooms and
// threads (counts.unread); 0 when they cannot be read.
func (d *pushDeliverer) unreadTotal(ctx context.Context, userID string) int {
	counts, err := d.api.unread.counts(ctx, userID)
	if err != nil {
		return 0
	}
	total := 0
	for _, c := range counts {
		total += c.Notify
	}
	return total
}

// roomFacts are the room's name, alias and the sender's display name, as
// the notification shows them.
type roomFacts struct {
	name, alias, senderName string
}

func (d *pushDeliverer) roomFacts(ctx context.Context, roomID, sender string) *roomFacts {
	read := func(typ, stateKey, field string) string {
		ev, err := d.api.Rooms.CurrentStateEvent(ctx, roomID, typ, stateKey)
		if err != nil {
			if !errors.Is(err, roomserver.ErrNoStateEvent) {
				slog.Debug("push: reading room state failed", "room", roomID, "type", typ, "err", err)
			}
			return ""
		}
		return gjson.GetBytes(ev.Content(), field).Str
	}
	return &roomFacts{
		name:       read("m.room.name", "", "name"),
		alias:      read("m.room.canonical_alias", "", "alias"),
		senderName: read("m.room.member", sender, "displayname"),
	}
}

// notificationOf is the full notification of ev for act's user; the
// sender applies a pusher's event_id_only format. Encrypted events go as
// they are: their content is ciphertext.
func notificationOf(ev *mxcore.PDU, act storage.PushAction, f *roomFacts) pushgw.Notification {
	tweaks := tweaksOf(act.Actions)
	n := pushgw.Notification{
		EventID: ev.EventID(), RoomID: ev.RoomID(), Type: ev.Type(), Sender: ev.Sender(),
		SenderDisplayName: f.senderName, RoomName: f.name, RoomAlias: f.alias,
		Content: json.RawMessage(ev.Content()), Prio: "low", Tweaks: tweaks,
	}
	if sk := ev.StateKey(); ev.Type() == "m.room.member" && sk != nil && *sk == act.UserID {
		n.UserIsTarget = true
	}
	// Alerting notifications (a sound or highlight) and encrypted ones,
	// whose importance only the device can tell, wake the device.
	if _, sound := tweaks["sound"]; sound || act.Highlight || ev.Type() == "m.room.encrypted" {
		n.Prio = "high"
	}
	return n
}

// tweaksOf collects the set_tweak actions of a matched rule; a highlight
// tweak without a value is true (push module, "Actions").
func tweaksOf(actions []byte) map[string]json.RawMessage {
	var out map[string]json.RawMessage
	gjson.ParseBytes(actions).ForEach(func(_, a gjson.Result) bool {
		name := a.Get("set_tweak")
		if name.Type != gjson.String {
			return true
		}
		if out == nil {
			out = map[string]json.RawMessage{}
		}
		if v := a.Get("value"); v.Exists() {
			out[name.Str] = json.RawMessage(v.Raw)
		} else if name.Str == "highlight" {
			out[name.Str] = json.RawMessage("true")
		}
		return true
	})
	return out
}
