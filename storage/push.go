package storage

import (
	"context"
	"encoding/json"
)

// PushAction is what a user's push rules decided for one event that
// notifies them: a row of their notification list and unread counts.
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

// PushMark marks a user's actions in a room read up to a stream position
// (see MarkPushActionsRead).
type PushMark struct {
	UserID, RoomID string
	ThreadID       string // "" = every thread
	UpTo           int64
}

// PushWrite is one write of WritePush: an action to add, or a mark.
// Exactly one of the two is set.
type PushWrite struct {
	Action *PushAction
	Mark   *PushMark
}

// UnreadCount is a user's unread notifications in one thread of a room.
type UnreadCount struct {
	RoomID    string
	ThreadID  string
	Notify    int
	Highlight int
}

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

// PushStore keeps push actions, unread counts and pushers.
type PushStore interface {
	// AddPushActions stores actions; one that exists for its (user,
	// event) already is left as it is.
	AddPushActions(ctx context.Context, actions []PushAction) error
	// MarkPushActionsRead marks the user's actions in roomID with a stream
	// position at or below upTo as read: in thread threadID only, or in
	// every thread when threadID is "".
	MarkPushActionsRead(ctx context.Context, userID, roomID, threadID string, upTo int64) error
	// WritePush applies writes in order, in one transaction: what
	// AddPushActions and MarkPushActionsRead would do one call each.
	WritePush(ctx context.Context, writes []PushWrite) error
	// UnreadCounts sums the user's unread actions per room and thread.
	UnreadCounts(ctx context.Context, userID string) ([]UnreadCount, error)
	// PushActions lists the user's actions, newest first, below the stream
	// position before (0: from the newest), at most limit of them, only
	// highlights if highlightsOnly.
	PushActions(ctx context.Context, userID string, before int64, limit int, highlightsOnly bool) ([]PushAction, error)

	// SetPusher adds or replaces the pusher (AppID, PushKey) of its user;
	// with append false, any other user's pusher of the same (AppID,
	// PushKey) is removed, as the spec's default asks.
	SetPusher(ctx context.Context, p Pusher, appendPusher bool) error
	// DeletePusher removes the user's pusher (appID, pushKey), if any.
	DeletePusher(ctx context.Context, userID, appID, pushKey string) error
	// Pushers lists the user's pushers.
	Pushers(ctx context.Context, userID string) ([]Pusher, error)
}
