package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"slices"

	"github.com/warbler-im/warbler/storage"
)

// Item kinds in federation_queue.kind.
const (
	queueKindPDU = 0
	queueKindEDU = 1
)

const (
	qEnqueueFederation = `INSERT INTO federation_queue
		(destination, kind, event_id, room_id, edu_type, edu_content, queued_ts)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`
	// The oldest items of each kind, each one range of the index
	// (destination, kind, seq). The subqueries let each have its own
	// ORDER BY and LIMIT on SQLite too.
	qPendingFederation = `SELECT * FROM (SELECT seq, event_id, room_id, edu_type, edu_content, queued_ts
		FROM federation_queue WHERE destination = $1 AND kind = $2 ORDER BY seq LIMIT $3) AS pdus
		UNION ALL SELECT * FROM (SELECT seq, event_id, room_id, edu_type, edu_content, queued_ts
		FROM federation_queue WHERE destination = $1 AND kind = $4 ORDER BY seq LIMIT $5) AS edus`
	qDeleteFederation       = `DELETE FROM federation_queue WHERE destination = $1 AND seq = $2`
	qFederationDestinations = `SELECT DISTINCT destination FROM federation_queue ORDER BY destination`

	qInboundTxnResponse      = `SELECT response_json FROM federation_inbound_txns WHERE origin = $1 AND txn_id = $2`
	qStoreInboundTxnResponse = `INSERT INTO federation_inbound_txns (origin, txn_id, response_json, received_ts)
		VALUES ($1, $2, $3, $4) ON CONFLICT (origin, txn_id) DO NOTHING`
	qPruneInboundTxns = `DELETE FROM federation_inbound_txns WHERE received_ts < $1`
)

// EnqueueFederation implements storage.FederationQueueStore. One item,
// the usual case on the delivery path (one event, one other server), is
// one cached statement outside an explicit transaction: on PostgreSQL that
// saves the BEGIN, PREPARE and COMMIT round trips.
func (db *DB) EnqueueFederation(ctx context.Context, items []storage.FederationQueueItem) error {
	switch len(items) {
	case 0:
		return nil
	case 1:
		_, err := db.writer.ExecContext(ctx, db.q(qEnqueueFederation), enqueueArgs(items[0])...)
		return err
	}
	query := db.q(qEnqueueFederation)
	cached := db.writer.stmt(ctx, query)
	return db.writeTx(ctx, func(tx *sql.Tx) error {
		stmt, err := txStmt(ctx, tx, cached, query)
		if err != nil {
			return err
		}
		for _, it := range items {
			if _, err := stmt.ExecContext(ctx, enqueueArgs(it)...); err != nil {
				return err
			}
		}
		return nil
	})
}

func enqueueArgs(it storage.FederationQueueItem) []any {
	kind := queueKindPDU
	if it.IsEDU() {
		kind = queueKindEDU
	}
	return []any{it.Destination, kind, it.EventID, it.RoomID, it.EDUType, nullBytes(it.EDUContent), it.QueuedTS}
}

// txStmt is cached (the writer's cached statement, taken before the
// transaction: on SQLite preparing it needs the one writer connection
// that the transaction holds) inside tx, or query prepared in tx when no
// statement can be cached.
func txStmt(ctx context.Context, tx *sql.Tx, cached *sql.Stmt, query string) (*sql.Stmt, error) {
	if cached != nil {
		return tx.StmtContext(ctx, cached), nil
	}
	return tx.PrepareContext(ctx, query)
}

// PendingFederation implements storage.FederationQueueStore: the oldest
// PDUs and the oldest EDUs in one query (one round trip).
func (db *DB) PendingFederation(ctx context.Context, destination string, maxPDUs, maxEDUs int) ([]storage.FederationQueueItem, error) {
	rows, err := db.reader.QueryContext(ctx, db.q(qPendingFederation), destination, queueKindPDU, max(maxPDUs, 0), queueKindEDU, max(maxEDUs, 0))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	items := []storage.FederationQueueItem{}
	for rows.Next() {
		it := storage.FederationQueueItem{Destination: destination}
		if err := rows.Scan(&it.Seq, &it.EventID, &it.RoomID, &it.EDUType, &it.EDUContent, &it.QueuedTS); err != nil {
			return nil, err
		}
		items = append(items, it)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	sortBySeq(items)
	return items, nil
}

// sortBySeq merges the two kinds into queue order.
func sortBySeq(items []storage.FederationQueueItem) {
	slices.SortFunc(items, func(a, b storage.FederationQueueItem) int { return cmp.Compare(a.Seq, b.Seq) })
}

// DeleteFederation implements storage.FederationQueueStore.
func (db *DB) DeleteFederation(ctx context.Context, destination string, seqs []int64) error {
	if len(seqs) == 0 {
		return nil
	}
	if len(seqs) == 1 {
		_, err := db.writer.ExecContext(ctx, db.q(qDeleteFederation), destination, seqs[0])
		return err
	}
	query := db.q(qDeleteFederation)
	cached := db.writer.stmt(ctx, query)
	return db.writeTx(ctx, func(tx *sql.Tx) error {
		stmt, err := txStmt(ctx, tx, cached, query)
		if err != nil {
			return err
		}
		for _, seq := range seqs {
			if _, err := stmt.ExecContext(ctx, destination, seq); err != nil {
				return err
			}
		}
		return nil
	})
}

// FederationDestinations implements storage.FederationQueueStore.
func (db *DB) FederationDestinations(ctx context.Context) ([]string, error) {
	rows, err := db.reader.QueryContext(ctx, qFederationDestinations)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// PeerServers implements storage.FederationQueueStore.
func (db *DB) PeerServers(ctx context.Context, server string, limit int) ([]string, error) {
	if limit <= 0 {
		return []string{}, nil
	}
	return db.queryColumn(ctx, `SELECT DISTINCT other.server_name FROM room_joined_servers me
		JOIN room_joined_servers other ON other.room_nid = me.room_nid
		WHERE me.server_name = $1 AND me.joined_count > 0
		AND other.server_name <> $1 AND other.joined_count > 0
		ORDER BY other.server_name LIMIT $2`, server, limit)
}

// InboundTxnResponse implements storage.FederationQueueStore.
func (db *DB) InboundTxnResponse(ctx context.Context, origin, txnID string) ([]byte, error) {
	var resp []byte
	err := db.reader.QueryRowContext(ctx, db.q(qInboundTxnResponse), origin, txnID).Scan(&resp)
	if err != nil {
		return nil, notFound(err)
	}
	return resp, nil
}

// StoreInboundTxnResponse implements storage.FederationQueueStore.
func (db *DB) StoreInboundTxnResponse(ctx context.Context, origin, txnID string, response []byte, receivedTS int64) error {
	_, err := db.writer.ExecContext(ctx, db.q(qStoreInboundTxnResponse), origin, txnID, response, receivedTS)
	return err
}

// PruneInboundTxns implements storage.FederationQueueStore.
func (db *DB) PruneInboundTxns(ctx context.Context, beforeTS int64) error {
	_, err := db.writer.ExecContext(ctx, db.q(qPruneInboundTxns), beforeTS)
	return err
}
