-- 0020: the federation outbox. Keep this file parallel with
-- storage/postgres/migrations/0020_federation_outbox.sql.
--
-- An event this server creates is recorded here in the transaction that
-- stores it, and removed in the transaction that queues it for the room's
-- other servers (federation_queue). A process that dies between the two
-- finds it here at its next start and queues it then, so an acknowledged
-- event always reaches the other servers. Rows live for milliseconds.
CREATE TABLE federation_outbox (
    event_id   TEXT PRIMARY KEY,
    stream_pos INTEGER NOT NULL
) STRICT;
CREATE INDEX federation_outbox_by_stream ON federation_outbox (stream_pos);
