package sqlstore

import (
	"context"
	"database/sql"

	"github.com/warbler-im/warbler/storage"
)

// The federation outbox (migration 0020): the events this server created
// that are stored but not yet queued for the room's other servers. The
// persist transaction adds a row per Outbound event (persister.store); the
// sender's QueueOutbound removes it in the transaction that queues it.

const (
	qInsertOutbox     = `INSERT INTO federation_outbox (event_id, stream_pos) VALUES ($1, $2)`
	qDeleteOutbox     = `DELETE FROM federation_outbox WHERE event_id = $1`
	qFederationOutbox = `SELECT event_id FROM federation_outbox ORDER BY stream_pos LIMIT $1`
)

// QueueOutbound implements storage.FederationQueueStore.
func (db *DB) QueueOutbound(ctx context.Context, items []storage.FederationQueueItem, outboxIDs []string) error {
	if len(items) == 0 && len(outboxIDs) == 0 {
		return nil
	}
	enqueue, dequeue := db.q(qEnqueueFederation), db.q(qDeleteOutbox)
	cachedEnqueue, cachedDequeue := db.writer.stmt(ctx, enqueue), db.writer.stmt(ctx, dequeue)
	return db.writeTx(ctx, func(tx *sql.Tx) error {
		if len(items) > 0 {
			stmt, err := txStmt(ctx, tx, cachedEnqueue, enqueue)
			if err != nil {
				return err
			}
			for _, it := range items {
				if _, err := stmt.ExecContext(ctx, enqueueArgs(it)...); err != nil {
					return err
				}
			}
		}
		if len(outboxIDs) == 0 {
			return nil
		}
		stmt, err := txStmt(ctx, tx, cachedDequeue, dequeue)
		if err != nil {
			return err
		}
		for _, id := range outboxIDs {
			if _, err := stmt.ExecContext(ctx, id); err != nil {
				return err
			}
		}
		return nil
	})
}

// FederationOutbox implements storage.FederationQueueStore.
func (db *DB) FederationOutbox(ctx context.Context, limit int) ([]string, error) {
	return db.queryColumn(ctx, qFederationOutbox, limit)
}
