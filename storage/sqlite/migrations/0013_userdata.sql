-- 0013: account data, receipts and presence (the per-user /sync streams).
-- Keep this file parallel with storage/postgres/migrations/0013_userdata.sql.

-- One counter per stream. A writer bumps its stream's row in the same
-- transaction as its change: the row lock orders the commits, so a
-- position is never readable before a lower one is.
CREATE TABLE stream_counters (
    stream TEXT PRIMARY KEY,
    pos    INTEGER NOT NULL
) STRICT;
INSERT INTO stream_counters (stream, pos) VALUES ('account_data', 0), ('receipts', 0);

-- One row per (user, room, type); room_id is '' for global account data.
-- A change moves the row to a new stream position.
CREATE TABLE account_data (
    user_id    TEXT NOT NULL,
    room_id    TEXT NOT NULL,
    data_type  TEXT NOT NULL,
    content    TEXT NOT NULL,
    stream_pos INTEGER NOT NULL,
    PRIMARY KEY (user_id, room_id, data_type)
) STRICT;
CREATE INDEX account_data_by_pos ON account_data (user_id, stream_pos);

-- One row per (room, user, type, thread); thread_id is '' for an
-- unthreaded receipt. event_order orders the event within the room, so a
-- receipt never moves back.
CREATE TABLE receipts (
    room_id      TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    receipt_type TEXT NOT NULL,
    thread_id    TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    event_order  INTEGER NOT NULL,
    ts           INTEGER NOT NULL,
    stream_pos   INTEGER NOT NULL,
    PRIMARY KEY (room_id, user_id, receipt_type, thread_id)
) STRICT;
CREATE INDEX receipts_by_pos ON receipts (room_id, stream_pos);

-- The last presence state each user set.
CREATE TABLE presence (
    user_id          TEXT PRIMARY KEY,
    presence         TEXT NOT NULL,
    status_msg       TEXT NOT NULL,
    last_active_ts   INTEGER NOT NULL,
    currently_active INTEGER NOT NULL
) STRICT;
