package storage

import "context"

// Server-side search (client-server API, "Server Side Search"): the text
// of some events is indexed when they are persisted, in the same
// transaction, so a search sees exactly the committed events. Indexed are
// timeline events that clients may see (not outliers, rejected or
// soft-failed events): content.body of m.room.message, content.name of
// m.room.name and content.topic of m.room.topic. A redaction takes its
// target out of the index. Events persisted before the index existed are
// not indexed.

// Searchable event types, one per key the spec lets clients search.
const (
	SearchTypeMessage = "m.room.message" // content.body
	SearchTypeName    = "m.room.name"    // content.name
	SearchTypeTopic   = "m.room.topic"   // content.topic
)

// Bounds of one SearchEvents call.
const (
	MaxSearchWords = 16
	MaxSearchRooms = 5000
	MaxSearchHits  = 500
	// MaxSearchFilterUsers bounds Senders and NotSenders each.
	MaxSearchFilterUsers = 100
)

// SearchPos is where a search result sorts: by Rank (higher first) and
// then Stream (higher, i.e. newer, first) when ordering by rank, by
// Stream alone when ordering by recency. Stream positions are unique, so
// a position names one result.
type SearchPos struct {
	Rank   float64
	Stream int64
}

// SearchQuery is one page of a search.
type SearchQuery struct {
	// Words must all occur in the event's text (after the engine's own
	// stemming). They should be lower case letters and digits only.
	Words []string
	// RoomIDs are the only rooms searched.
	RoomIDs []string
	// Types are the searchable event types to look in.
	Types []string
	// Senders, when not nil, are the only senders searched; NotSenders
	// are never searched.
	Senders    *[]string
	NotSenders []string
	// ByRank orders by relevance; otherwise newest first.
	ByRank bool
	// After, when not nil, continues a search: only results that sort
	// after it come back.
	After *SearchPos
	// Limit is the most results returned (at most MaxSearchHits).
	Limit int
}

// SearchHit is one matching event.
type SearchHit struct {
	EventID string
	RoomID  string
	Sender  string
	SearchPos
}

// SearchStore answers full-text searches over the indexed events.
type SearchStore interface {
	// SearchEvents returns the events matching q in q's order. A query
	// with no words, rooms or types (or limit 0) matches nothing; one
	// beyond the bounds above is an error. It does not judge history
	// visibility: the caller checks each hit for its user.
	SearchEvents(ctx context.Context, q SearchQuery) ([]SearchHit, error)
}
