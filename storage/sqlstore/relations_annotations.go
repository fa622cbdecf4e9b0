package sqlstore

import (
	"context"
	"strconv"

	"github.com/tidwall/gjson"
	"github.com/warbler-im/warbler/storage"
)

// qSenderAnnotations reads one sender's annotations of a parent through
// the event_relations_sender index; the annotation key lives only in the
// event JSON, so the caller compares it.
var qSenderAnnotations = qSelectEvents + ` WHERE e.event_nid IN (
		SELECT event_nid FROM event_relations
		WHERE relates_to_id = $1 AND rel_type = $2 AND sender = $3
		LIMIT ` + strconv.Itoa(storage.MaxAnnotationScan) + `)`

// HasAnnotation implements storage.RelationStore. A redaction deletes the
// relation row, so redacted annotations are not found.
func (db *DB) HasAnnotation(ctx context.Context, roomID, parentID, sender, eventType, key string) (bool, error) {
	events, err := db.queryEvents(ctx, db.reader, qSenderAnnotations, parentID, storage.RelAnnotate, sender)
	if err != nil {
		return false, err
	}
	for _, e := range events {
		if e.RoomID == roomID && e.Type == eventType && e.RedactedBecause == "" &&
			gjson.GetBytes(e.JSON, `content.m\.relates_to.key`).String() == key {
			return true, nil
		}
	}
	return false, nil
}
