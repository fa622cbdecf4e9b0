package clientapi

import (
	"context"
	"slices"
	"time"

	"github.com/tidwall/gjson"
	"github.com/warbler-im/warbler/push"
	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/storage"
)

// pushListener runs the push rules of a room's local members over each
// new event (push module, "Server behaviour") and records the notifying
// ones as unread. It is registered after the sync notifier, and a woken
// /sync waits for it before reading counts (push_pending.go).
type pushListener struct {
	api     *API
	rules   *pushRuleCache
	unread  *unreadTracker
	pending *pendingPush // ended here for each batch pushMarker counted
	// deliver sends notifications to push gateways; nil sends none.
	deliver *pushDeliverer
}

var _ roomserver.Listener = (*pushListener)(nil)

// pushEvalTimeout bounds the reads one commit's evaluation may make.
const pushEvalTimeout = 5 * time.Second

// OnNewEvents implements roomserver.Listener.
func (l *pushListener) OnNewEvents(roomID string, events []roomserver.PersistedEvent) {
	for _, ev := range events {
		if evaluated(ev) {
			defer l.pending.end(roomID) // after the counts are updated
			break
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), pushEvalTimeout)
	defer cancel()
	var notes []storage.PushNotification
	var jobs []pushJob
	for _, ev := range events {
		if !evaluated(ev) {
			continue
		}
		evActions := l.evaluate(ctx, roomID, ev)
		if len(evActions) > 0 {
			notes = append(notes, notificationOfActions(evActions))
		}
		if len(evActions) > 0 && l.deliver != nil {
			jobs = append(jobs, pushJob{roomID: roomID, ev: ev.Event, actions: evActions})
		}
		// Sending an event marks the sender's notifications read up to it
		// (push module, "Marking notifications as read").
		if sender := ev.Event.Sender(); l.api.isLocalUser(sender) {
			l.unread.markRead(sender, roomID, "", ev.Stream)
		}
	}
	l.unread.add(notes)
	// After add, so the counts the notifications carry include them.
	for _, j := range jobs {
		l.deliver.offer(j)
	}
}

// evaluate returns the actions ev's push rules give the room's local
// members (and a local invitee) other than its sender.
func (l *pushListener) evaluate(ctx context.Context, roomID string, ev roomserver.PersistedEvent) []storage.PushAction {
	joined, err := l.api.roomMembers.joinedMembers(ctx, roomID)
	if err != nil {
		return nil
	}
	targets := joined
	if invitee := inviteeOf(ev); invitee != "" {
		targets = append(targets[:len(targets):len(targets)], invitee)
	}
	room := push.Room{MemberCount: len(joined)}
	l.api.setSenderPower(ctx, roomID, ev.Event.Sender(), &room)
	event := push.NewEvent(string(ev.Event.JSON())) // read once for all members
	thread := threadOf(ev.Event.Content())
	ts := l.api.now().UnixMilli()
	out := make([]storage.PushAction, 0, len(targets))
	// Members with the same rules get the same actions: one copy serves
	// them all (this runs for every member of the room, for each event).
	shared := map[string][]byte{}
	var buf [256]byte
	for _, userID := range targets {
		if userID == ev.Event.Sender() || !l.api.isLocalUser(userID) {
			continue
		}
		rules, err := l.rules.get(ctx, userID)
		if err != nil {
			continue // a user whose rules cannot be read is not notified
		}
		room.UserID = userID
		outcome, matched := push.EvaluateEvent(rules, event, room)
		if !matched || !outcome.Notify {
			continue
		}
		out = append(out, storage.PushAction{
			UserID: userID, RoomID: roomID, EventID: ev.Event.EventID(), StreamPos: ev.Stream,
			ThreadID: thread, TS: ts, Highlight: outcome.Highlight,
			Actions: sharedActions(shared, appendActions(buf[:0], outcome)),
		})
	}
	return out
}

// notificationOfActions is one event's notification of the users its
// actions are for (all from one evaluate call).
func notificationOfActions(actions []storage.PushAction) storage.PushNotification {
	first := actions[0]
	n := storage.PushNotification{RoomID: first.RoomID, EventID: first.EventID, StreamPos: first.StreamPos,
		ThreadID: first.ThreadID, TS: first.TS, Recipients: make([]storage.PushRecipient, len(actions))}
	for i, a := range actions {
		n.Recipients[i] = storage.PushRecipient{UserID: a.UserID, Highlight: a.Highlight, Actions: a.Actions}
	}
	return n
}

// inviteeOf is the user an invite event is for, "" for other events.
func inviteeOf(ev roomserver.PersistedEvent) string {
	if ev.Event.Type() != "m.room.member" || ev.Event.StateKey() == nil {
		return ""
	}
	if gjson.GetBytes(ev.Event.Content(), "membership").Str != "invite" {
		return ""
	}
	return *ev.Event.StateKey()
}

// threadOf is the thread an event belongs to for notification counts:
// its m.thread relation's root, else "main". (The spec suggests following
// up to 3 relations to find a thread; only the direct relation is read.)
func threadOf(content []byte) string {
	rel := gjson.GetBytes(content, `m\.relates_to`)
	if rel.Get("rel_type").Str == "m.thread" {
		if root := rel.Get("event_id").Str; root != "" {
			return root
		}
	}
	return "main"
}

// setSenderPower fills the power facts sender_notification_permission
// reads: the sender's level and the levels of notifications keys.
func (a *API) setSenderPower(ctx context.Context, roomID, sender string, room *push.Room) {
	state, err := a.powerState(ctx, roomID)
	if err != nil {
		room.NotificationPower = push.NotificationLevels(nil)
		return
	}
	room.SenderPower = roomserver.PowerLevelOf(sender, state)
	var content []byte
	if pl := state[roomserver.StateKeyTuple{Type: "m.room.power_levels"}]; pl != nil {
		content = pl.Content()
	}
	room.NotificationPower = push.NotificationLevels(content)
}

// appendActions appends the matched rule's actions as stored for
// /notifications (a JSON array) to b.
func appendActions(b []byte, o push.Outcome) []byte {
	b = append(b, '[')
	for i, a := range o.Actions {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, a...)
	}
	return append(b, ']')
}

// sharedActions returns the copy of actions in shared, adding one if
// there is none; actions may be a scratch buffer.
func sharedActions(shared map[string][]byte, actions []byte) []byte {
	if kept, ok := shared[string(actions)]; ok {
		return kept
	}
	kept := slices.Clone(actions)
	shared[string(kept)] = kept
	return kept
}
