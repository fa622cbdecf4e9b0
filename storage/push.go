package storage

import (
	"context"
	"encoding/json"
	"fmt"
)

// PushAction is what a user's push rules decided for one event that
// notifies them: an entry of their notification list and unread counts.
type PushAction struct {
	UserID    string
	RoomID    string
	EventID   string
	StreamPos int64 // the event's stream position
	// ThreadID is the thread root's event ID, or "main" for the room's
	// main timeline (threaded read receipts clear counts per thread).
	ThreadID  string
	TS        int64 // when the event was received, in ms
	Highlight bool
	Actions   json.RawMessage // the matching rule's actions
	Read      bool
}

// PushNotification is one event that notified some users: every user's
// entry of that event, stored once (a message in a room of n members
// notifies up to n-1 of them).
type PushNotification struct {
	RoomID    string
	EventID   string
	StreamPos int64  // the event's stream position
	ThreadID  string // as in PushAction
	TS        int64  // when the event was received, in ms
	// Recipients are the notified users, each once. A user ID must not
	// hold a tab or a newline (Matrix user IDs cannot), and Actions must
	// be valid JSON.
	Recipients []PushRecipient
}

// PushRecipient is one notified user of a PushNotification.
type PushRecipient struct {
	UserID    string
	Highlight bool
	Actions   json.RawMessage
}

// PushMark marks a user's notifications in a room read up to a stream
// position. A user's event is read if its stream position is at or below
// their mark for its room with ThreadID "" or for its room and thread;
// marks only grow.
type PushMark struct {
	UserID, RoomID string
	ThreadID       string // "" = every thread
	UpTo           int64
}

// PushWrite is one write of WritePush: a notification to add, or a mark.
// Exactly one of the two is set.
type PushWrite struct {
	Notification *PushNotification
	Mark         *PushMark
}

// BadPushWriteError is WritePush refusing a batch, having written
// nothing, because of a write that can never be written: Index is its
// place in the batch. The others may be written without it.
type BadPushWriteError struct {
	Index int
	Err   error
}

func (e *BadPushWriteError) Error() string {
	return fmt.Sprintf("storage: push write %d: %v", e.Index, e.Err)
}

func (e *BadPushWriteError) Unwrap() error { return e.Err }

// UnreadPush is what UnreadPushActions read of one user: their unread
// actions, and their marks in the rooms asked about.
type UnreadPush struct {
	Actions []PushAction
	Marks   []PushMark
}

// UnreadCount is a user's unread notifications in one thread of a room.
type UnreadCount struct {
	RoomID    string
	ThreadID  string
	Notify    int
	Highlight int
}

// MaxPushRooms bounds the rooms one UnreadPushActions or PushActions call
// reads; callers pass the rooms that matter most first.
const MaxPushRooms = 5000

// Pusher is a user's registered push target (POST /pushers/set). Data is
// the pusher's data object, kept as given.
type Pusher struct {
	UserID            string
	AppID             string
	PushKey           string
	Kind              string
	AppDisplayName    string
	DeviceDisplayName string
	ProfileTag        string
	Lang              string
	Data              json.RawMessage
	CreatedTS         int64
}

// PushStore keeps push notifications, read marks and pushers.
type PushStore interface {
	// WritePush applies writes in order, in one transaction. A
	// notification whose (room, stream position) is stored already is
	// left as it is; a mark at or below the user's mark for the same
	// room and thread changes nothing.
	WritePush(ctx context.Context, writes []PushWrite) error
	// UnreadPushActions reads the user's unread actions in roomIDs, each
	// room's newest first, and the user's marks in those rooms. Of each
	// room it looks at no more than the newest scanPerRoom notifications
	// above the user's mark for every thread, so older unread actions of
	// a room where many events did not notify the user are missed.
	UnreadPushActions(ctx context.Context, userID string, roomIDs []string, scanPerRoom int) (UnreadPush, error)
	// PushActions lists the user's actions in roomIDs, newest first, below
	// the stream position before (0: from the newest), at most limit of
	// them, only highlights if highlightsOnly, each with its Read flag.
	// next is the stream position to continue below, 0 when there is no
	// more. To bound the work of one call it looks at a limited number of
	// notifications, so it may return fewer than limit with a next.
	PushActions(ctx context.Context, userID string, roomIDs []string, before int64, limit int, highlightsOnly bool) (actions []PushAction, next int64, err error)

	// SetPusher adds or replaces the pusher (AppID, PushKey) of its user;
	// with append false, any other user's pusher of the same (AppID,
	// PushKey) is removed, as the spec's default asks.
	SetPusher(ctx context.Context, p Pusher, appendPusher bool) error
	// DeletePusher removes the user's pusher (appID, pushKey), if any.
	DeletePusher(ctx context.Context, userID, appID, pushKey string) error
	// Pushers lists the user's pushers.
	Pushers(ctx context.Context, userID string) ([]Pusher, error)
}
