package storage

import "context"

// Event relationships (client-server API, "Forming relationships between
// events"): a child event names its parent in content.m.relates_to with a
// rel_type. Storage records the relationship of every accepted timeline
// event when it is persisted and forgets it when the child is redacted,
// which is what a redaction does to m.relates_to. Validity rules beyond
// "same room" (who may edit what, which parents may be threaded) are the
// caller's; storage only answers the queries they need.

// Relationship types the aggregations know.
const (
	RelReplace   = "m.replace"
	RelThread    = "m.thread"
	RelReference = "m.reference"
	RelAnnotate  = "m.annotation"
)

// MaxAnnotationScan bounds the annotations of one sender on one parent
// that HasAnnotation reads.
const MaxAnnotationScan = 1000

// MaxRelationDepth is how far RelationsQuery.Recurse follows relations of
// relations (the spec asks for at least 3 levels).
const MaxRelationDepth = 3

// MaxBundledReferences bounds the m.reference chunk of one parent.
const MaxBundledReferences = 50

// RelationsQuery is one page of a parent's child events.
type RelationsQuery struct {
	RoomID, EventID string
	// RelType and EventType, when not empty, keep only children with that
	// rel_type and event type; with Recurse they apply at every level.
	RelType, EventType string
	// Recurse also returns children of children, to MaxRelationDepth.
	Recurse bool
	// From and To bound the page exclusively, in topological order, as in
	// EventsBetween.
	From, To  TopoPos
	Backwards bool
	Limit     int
}

// RelationParent names an event whose aggregations are wanted.
type RelationParent struct {
	EventID, RoomID string
	// Replace asks for the latest valid m.replace: false for parents that
	// cannot be replaced (redacted ones, edits themselves, state events).
	Replace bool
}

// RelationSummary is what storage knows of a parent's children for the
// bundled aggregations. Counts and IDs cover only children in the
// parent's room.
type RelationSummary struct {
	// Replace is the ID of the latest replacement with the parent's
	// sender and type (by origin_server_ts, then event ID); "" if none.
	Replace string
	// ThreadCount counts m.thread children; ThreadLatest is the latest of
	// them topologically; ThreadParticipated says whether the user asked
	// about sent one of them.
	ThreadCount        int
	ThreadLatest       string
	ThreadParticipated bool
	// References are the IDs of m.reference children, oldest first, at
	// most MaxBundledReferences.
	References []string
}

// ThreadRoot is one thread of a room and the position of its latest event.
type ThreadRoot struct {
	EventID string
	Latest  TopoPos
}

// RelationStore keeps event relationships.
type RelationStore interface {
	// Relations returns a page of the parent's children, newest first
	// going backwards and oldest first going forwards; ErrNotFound if the
	// room is unknown.
	Relations(ctx context.Context, q RelationsQuery) ([]StoredEvent, error)
	// RelationSummaries returns the aggregations of the parents that have
	// any, keyed by parent event ID, for userID.
	RelationSummaries(ctx context.Context, userID string, parents []RelationParent) (map[string]RelationSummary, error)
	// ThreadRoots returns up to limit threads of the room whose latest
	// event is before the position before, latest activity first; with
	// participated only those userID sent the root of or an event in. The
	// roots themselves need not be stored. ErrNotFound if the room is
	// unknown.
	ThreadRoots(ctx context.Context, roomID, userID string, participated bool, before TopoPos, limit int) ([]ThreadRoot, error)
	// HasAnnotation reports whether sender already has an m.annotation of
	// the parent, in its room, with this event type and key that is not
	// redacted (M_DUPLICATE_ANNOTATION). It reads at most
	// MaxAnnotationScan of the sender's annotations of the parent.
	HasAnnotation(ctx context.Context, roomID, parentID, sender, eventType, key string) (bool, error)
}
