-- 0021: push notifications stored once per event instead of once per
-- notified user and event. Keep this file parallel with
-- storage/postgres/migrations/0021_push_notifications.sql.
--
-- A message in a room of n members notifies up to n-1 of them; one row per
-- (user, event) made the push writes most of the database's writes, spread
-- over user-keyed index pages. Now an event's notified users are lines of
-- its one row's recipients: "user_id TAB highlight(0|1) TAB actions LF",
-- actions being compact JSON (no raw tab or newline can appear), or empty
-- for the row's actions, those most of its users share (most users keep
-- the default rules, and the actions were most of each line's bytes).
CREATE TABLE push_notifications (
    room_id    TEXT NOT NULL,
    stream_pos INTEGER NOT NULL,
    event_id   TEXT NOT NULL,
    thread_id  TEXT NOT NULL,
    ts         INTEGER NOT NULL,
    actions    TEXT NOT NULL,
    recipients TEXT NOT NULL,
    PRIMARY KEY (room_id, stream_pos)
) STRICT;

-- What each user has read: an event is read if its stream position is at
-- or below the user's mark for its room in thread_id '' (every thread) or
-- in its own thread. Marks only grow.
CREATE TABLE push_read_marks (
    user_id   TEXT NOT NULL,
    room_id   TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    up_to     INTEGER NOT NULL,
    PRIMARY KEY (user_id, room_id, thread_id)
) STRICT, WITHOUT ROWID; -- small rows only ever found by key

-- The old rows, grouped by event, with one of their actions as the row's.
-- Raw tabs and newlines could only sit in invalid JSON; they become spaces
-- so the lines stay parseable.
INSERT INTO push_notifications (room_id, stream_pos, event_id, thread_id, ts, actions, recipients)
SELECT p.room_id, p.stream_pos, MIN(p.event_id), MIN(p.thread_id), MIN(p.ts),
    replace(replace(shared.actions, char(9), ' '), char(10), ' '),
    group_concat(p.user_id || char(9) || p.highlight || char(9)
        || CASE WHEN p.actions = shared.actions THEN ''
            ELSE replace(replace(p.actions, char(9), ' '), char(10), ' ') END || char(10), '')
FROM push_actions p
JOIN (SELECT room_id, stream_pos, MIN(actions) AS actions FROM push_actions GROUP BY room_id, stream_pos) shared
    ON shared.room_id = p.room_id AND shared.stream_pos = p.stream_pos
GROUP BY p.room_id, p.stream_pos, shared.actions;

-- A user's read rows become a mark per room and thread at the newest of
-- them (receipts marked everything at or below a position).
INSERT INTO push_read_marks (user_id, room_id, thread_id, up_to)
SELECT user_id, room_id, thread_id, MAX(stream_pos) FROM push_actions
WHERE is_read = 1 GROUP BY user_id, room_id, thread_id;

DROP TABLE push_actions;
