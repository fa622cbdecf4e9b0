-- 0012: invites of local users into rooms this server is not in.
-- Keep this file parallel with storage/sqlite/migrations/0012_remote_invites.sql.

-- The room's state is unknown here, so the invite lives outside the room
-- tables until the user joins (the room then becomes known) or rejects it.
-- stream_pos comes from the events stream so /sync orders it with events.
CREATE TABLE remote_invites (
    room_id      TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    room_version TEXT NOT NULL,
    sender       TEXT NOT NULL,
    -- 'invite', or 'leave' once rejected (event_json is then the leave),
    -- kept so an incremental /sync reports the rejection.
    membership   TEXT NOT NULL DEFAULT 'invite',
    event_json   BYTEA NOT NULL,
    invite_state BYTEA NOT NULL,
    stream_pos   BIGINT NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX remote_invites_user ON remote_invites (user_id, stream_pos);
