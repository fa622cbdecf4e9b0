package storage

import "context"

// AccountData is one entry of a user's account data: global when RoomID
// is "", else scoped to that room. Content is a JSON object.
type AccountData struct {
	UserID    string
	RoomID    string
	Type      string
	Content   []byte
	StreamPos int64 // the account data stream position of its last change
}

// Receipt is a user's receipt of one type in a room, for one thread
// ("" is unthreaded, "main" the main timeline, else a thread root's ID).
type Receipt struct {
	RoomID   string
	UserID   string
	Type     string // m.read or m.read.private
	ThreadID string
	EventID  string
	// EventOrder orders the receipt's event in the room (its stream
	// position where known): a receipt only ever moves to a later one.
	EventOrder int64
	TS         int64 // Unix milliseconds, set by the receiving server
	StreamPos  int64 // the receipts stream position of its last change
}

// Presence is the last presence state a user set.
type Presence struct {
	UserID          string
	Presence        string // online, unavailable or offline
	StatusMsg       string
	LastActiveTS    int64 // Unix milliseconds
	CurrentlyActive bool
}

// UserDataStore keeps the per-user data /sync streams beside room events:
// account data and receipts (each with its own stream position, one row
// per key, moved to a new position when it changes) and the last presence
// state of each user.
type UserDataStore interface {
	// SetAccountData stores content under (user, room, type), replacing
	// what was there, and returns its new stream position.
	SetAccountData(ctx context.Context, userID, roomID, dataType string, content []byte) (int64, error)
	// AccountData returns one entry's content; ErrNotFound if unset.
	AccountData(ctx context.Context, userID, roomID, dataType string) ([]byte, error)
	// AccountDataSince returns the user's entries whose position is in
	// (from, upTo], oldest first, at most limit of them.
	AccountDataSince(ctx context.Context, userID string, from, upTo int64, limit int) ([]AccountData, error)
	// MaxAccountDataPos is the highest account data position handed out.
	MaxAccountDataPos(ctx context.Context) (int64, error)

	// SetReceipt stores r unless the stored receipt for the same (room,
	// user, type, thread) is at a later or the same EventOrder. It returns
	// the new stream position, or 0 when it kept the stored one.
	SetReceipt(ctx context.Context, r Receipt) (int64, error)
	// ReceiptsSince returns the receipts in roomIDs whose position is in
	// (from, upTo], oldest first, at most limit of them.
	ReceiptsSince(ctx context.Context, roomIDs []string, from, upTo int64, limit int) ([]Receipt, error)
	// MaxReceiptPos is the highest receipts position handed out.
	MaxReceiptPos(ctx context.Context) (int64, error)

	// SetPresence stores a user's presence state, replacing the last one.
	SetPresence(ctx context.Context, p Presence) error
	// GetPresence returns a user's last stored state; ErrNotFound if none.
	GetPresence(ctx context.Context, userID string) (Presence, error)
}
