-- 0010: the outbound federation queues and the responses to inbound
-- transactions. Keep this file parallel with
-- storage/postgres/migrations/0010_federation_queue.sql: same tables,
-- columns, constraints and indexes, only the type names differ.
--
-- Timestamps are Unix milliseconds.

-- What is still to be sent to each destination server. A PDU row names its
-- event (the JSON stays in the events table), an EDU row carries its type
-- and content. Rows are deleted once the destination acknowledged the
-- transaction that carried them, so a destination that was down is caught
-- up from its first undelivered row, in seq order. kind is 0 for a PDU
-- and 1 for an EDU, so each kind's oldest rows are one index range.
CREATE TABLE federation_queue (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused
    destination TEXT NOT NULL,
    kind        INTEGER NOT NULL,
    event_id    TEXT NOT NULL DEFAULT '',
    room_id     TEXT NOT NULL DEFAULT '',
    edu_type    TEXT NOT NULL DEFAULT '',
    edu_content BLOB,
    queued_ts   INTEGER NOT NULL
) STRICT;
CREATE INDEX federation_queue_by_destination ON federation_queue (destination, kind, seq);

-- The response given to each inbound transaction, so a repeat of the same
-- (origin, txn_id) gets the same answer without being processed again.
CREATE TABLE federation_inbound_txns (
    origin        TEXT NOT NULL,
    txn_id        TEXT NOT NULL,
    response_json BLOB NOT NULL,
    received_ts   INTEGER NOT NULL,
    PRIMARY KEY (origin, txn_id)
) STRICT;
CREATE INDEX federation_inbound_txns_by_age ON federation_inbound_txns (received_ts);
