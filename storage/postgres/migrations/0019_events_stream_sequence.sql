-- 0019: the events stream's positions come from a sequence on PostgreSQL.
-- Taking them with UPDATE … RETURNING on stream_positions held that row
-- locked until commit, so every room's commits, and their flushes to
-- disk, queued behind one another. A sequence locks nothing; the server
-- tracks which of its positions are still in flight (sqlstore/stream.go).
-- The sequence starts after the counter's last position, and the
-- counter's row goes, so nothing can take a position from it by mistake.
-- SQLite keeps the counter row: it has one writer, commits in order.
CREATE SEQUENCE events_stream AS BIGINT MINVALUE 1;

SELECT setval('events_stream', GREATEST(position, 1), position > 0)
    FROM stream_positions WHERE stream = 'events';

DELETE FROM stream_positions WHERE stream = 'events';
