package storage

import "context"

// FilterStore keeps the filters clients upload for /sync
// (POST /user/{userId}/filter). A filter is opaque JSON here; the client
// API checks it.
type FilterStore interface {
	// SaveFilter stores a user's filter and returns its ID. Saving the
	// same JSON again for the same user returns the same ID, so clients
	// that upload their filter at every start do not grow the table.
	SaveFilter(ctx context.Context, userID string, filterJSON []byte) (string, error)
	// Filter returns the JSON of one of the user's filters; ErrNotFound if
	// the user has no filter with that ID (another user's filter included).
	Filter(ctx context.Context, userID, filterID string) ([]byte, error)
}
