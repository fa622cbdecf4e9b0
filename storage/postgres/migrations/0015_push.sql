-- 0015: push actions (notification list and unread counts) and pushers.
-- Keep this file parallel with storage/sqlite/migrations/0015_push.sql.

-- One row per (user, event) that the user's push rules made notify. Rows
-- are marked read by read receipts; unread ones are the unread counts.
CREATE TABLE push_actions (
    user_id    TEXT NOT NULL,
    stream_pos BIGINT NOT NULL,
    room_id    TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    thread_id  TEXT NOT NULL,
    ts         BIGINT NOT NULL,
    highlight  SMALLINT NOT NULL,
    actions    TEXT NOT NULL,
    is_read    SMALLINT NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, stream_pos)
);
CREATE INDEX push_actions_unread ON push_actions (user_id, room_id, stream_pos) WHERE is_read = 0;

CREATE TABLE pushers (
    user_id             TEXT NOT NULL,
    app_id              TEXT NOT NULL,
    pushkey             TEXT NOT NULL,
    kind                TEXT NOT NULL,
    app_display_name    TEXT NOT NULL,
    device_display_name TEXT NOT NULL,
    profile_tag         TEXT NOT NULL,
    lang                TEXT NOT NULL,
    data                TEXT NOT NULL,
    created_ts          BIGINT NOT NULL,
    PRIMARY KEY (user_id, app_id, pushkey)
);
CREATE INDEX pushers_by_key ON pushers (app_id, pushkey);
