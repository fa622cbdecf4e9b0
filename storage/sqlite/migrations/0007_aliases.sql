-- 0007: local room aliases of the room directory.
-- Keep this file parallel with storage/postgres/migrations/0007_aliases.sql.

-- Room and creator are IDs as text: an alias is looked up by its name (or
-- listed by room), never joined, and it may outlive its creator's account.
CREATE TABLE room_aliases (
    alias   TEXT PRIMARY KEY,
    room_id TEXT NOT NULL,
    creator TEXT NOT NULL
) STRICT;
CREATE INDEX room_aliases_room ON room_aliases (room_id);
