-- 0014: the public room directory, forgotten rooms, and an index to find
-- a room's events by timestamp (/timestamp_to_event).
-- Keep this file parallel with storage/postgres/migrations/0014_directory.sql.

-- Rooms published in this server's public room directory. IDs as text:
-- the table is read as a whole list or by room, never joined.
CREATE TABLE published_rooms (
    room_id TEXT PRIMARY KEY
) STRICT;

-- Left rooms a user forgot, with the membership event current when they
-- did: a later membership event (rejoin, invite) makes the row stale,
-- which is how rejoining un-forgets a room.
CREATE TABLE forgotten_rooms (
    user_id         TEXT NOT NULL,
    room_id         TEXT NOT NULL,
    member_event_id TEXT NOT NULL,
    PRIMARY KEY (user_id, room_id)
) STRICT;

CREATE INDEX events_room_ts ON events (room_nid, origin_server_ts);
