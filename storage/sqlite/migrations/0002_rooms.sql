-- 0002: rooms, their events (the DAG) and room state. Keep this file
-- parallel with storage/postgres/migrations/0002_rooms.sql: same tables,
-- columns, constraints and indexes, only the type names differ.
--
-- Inside the database rooms, events, event types and state keys are
-- integers (*_nid); their strings appear once each, in a unique column.
-- Room state is never stored whole per event: see state_blocks below.

-- Server-wide stream counters. 'events' is the stream of timeline events:
-- a persist takes its positions with UPDATE … RETURNING, which holds the
-- row lock until commit, so positions are handed out in commit order.
-- 'backfill' counts down from 0 for events fetched from the past.
CREATE TABLE stream_positions (
    stream   TEXT PRIMARY KEY,
    position INTEGER NOT NULL
) STRICT;

INSERT INTO stream_positions (stream, position) VALUES ('events', 0), ('backfill', 0);

CREATE TABLE event_types (
    type_nid INTEGER PRIMARY KEY AUTOINCREMENT,
    type     TEXT NOT NULL UNIQUE
) STRICT;

-- State keys, and user IDs wherever a user is named by the state key of
-- their m.room.member event (the memberships table).
CREATE TABLE state_keys (
    state_key_nid INTEGER PRIMARY KEY AUTOINCREMENT,
    state_key     TEXT NOT NULL UNIQUE
) STRICT;

CREATE TABLE rooms (
    room_nid         INTEGER PRIMARY KEY AUTOINCREMENT,
    room_id          TEXT NOT NULL UNIQUE,
    room_version     TEXT NOT NULL,
    created_stream   INTEGER NOT NULL, -- events stream position at creation
    partial_state    INTEGER NOT NULL DEFAULT 0 CHECK (partial_state IN (0, 1)),
    current_snapshot INTEGER NOT NULL DEFAULT 0 -- state_snapshots; 0 = empty state
) STRICT;

-- Every event, valid or not. Outliers have no stream_pos, topo_depth or
-- state_before. Timeline events have a stream_pos (> 0, or < 0 when
-- backfilled) and sort topologically by (topo_depth, stream_pos), where
-- topo_depth is the depth except for backfilled events, which are placed
-- before the room's earliest.
CREATE TABLE events (
    event_nid        INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id         TEXT NOT NULL UNIQUE,
    room_nid         INTEGER NOT NULL REFERENCES rooms (room_nid),
    type_nid         INTEGER NOT NULL REFERENCES event_types (type_nid),
    state_key_nid    INTEGER REFERENCES state_keys (state_key_nid), -- NULL: not a state event
    sender           TEXT NOT NULL,
    depth            INTEGER NOT NULL,
    origin_server_ts INTEGER NOT NULL,
    json             BLOB NOT NULL, -- as received
    outlier          INTEGER NOT NULL CHECK (outlier IN (0, 1)),
    rejected         TEXT,          -- NULL, or why auth rejected it
    soft_failed      INTEGER NOT NULL CHECK (soft_failed IN (0, 1)),
    redacted_because TEXT,          -- event ID of the redaction, once known
    stream_pos       INTEGER UNIQUE,
    topo_depth       INTEGER,
    state_before     INTEGER        -- state_snapshots; 0 = empty state
) STRICT;

CREATE INDEX events_room_stream ON events (room_nid, stream_pos);
CREATE INDEX events_room_topo ON events (room_nid, topo_depth, stream_pos);

-- prev_events (kind 0) and auth_events (kind 1) of each stored event, by
-- event ID since they may name events not stored yet. The key answers
-- "which events reference X".
CREATE TABLE event_edges (
    ref_event_id TEXT NOT NULL,
    kind         INTEGER NOT NULL CHECK (kind IN (0, 1)),
    event_nid    INTEGER NOT NULL REFERENCES events (event_nid),
    PRIMARY KEY (ref_event_id, kind, event_nid)
) STRICT, WITHOUT ROWID;

CREATE TABLE forward_extremities (
    room_nid  INTEGER NOT NULL REFERENCES rooms (room_nid),
    event_nid INTEGER NOT NULL REFERENCES events (event_nid),
    PRIMARY KEY (room_nid, event_nid)
) STRICT, WITHOUT ROWID;

-- Room state is stored as shared pieces so that a state change costs disk
-- in proportion to the change, never to the size of the room's state:
--
-- * a block is a run of about 32 (type, state key, event) entries of a
--   sorted full state, cut where the content says (so an edit changes only
--   its own block) and stored once, found again by its content hash;
-- * a keyframe is a full state as the list of its blocks' NIDs;
-- * a snapshot is a keyframe plus a small delta of entries changed since
--   it (event 0 = entry removed). A state never stored whole.
--
-- Entries, block lists and deltas are packed varints (see
-- storage/sqlstore/state_codec.go).
CREATE TABLE state_blocks (
    block_nid    INTEGER PRIMARY KEY AUTOINCREMENT,
    content_hash BLOB NOT NULL UNIQUE,
    entry_count  INTEGER NOT NULL,
    entries      BLOB NOT NULL
) STRICT;

CREATE TABLE state_keyframes (
    keyframe_nid INTEGER PRIMARY KEY AUTOINCREMENT,
    room_nid     INTEGER NOT NULL REFERENCES rooms (room_nid),
    content_hash BLOB NOT NULL UNIQUE,
    block_count  INTEGER NOT NULL,
    entry_count  INTEGER NOT NULL,
    block_nids   BLOB NOT NULL
) STRICT;

CREATE TABLE state_snapshots (
    snapshot_nid INTEGER PRIMARY KEY AUTOINCREMENT,
    room_nid     INTEGER NOT NULL REFERENCES rooms (room_nid),
    keyframe_nid INTEGER NOT NULL, -- state_keyframes; 0 = the empty state
    content_hash BLOB NOT NULL UNIQUE,
    delta_count  INTEGER NOT NULL,
    delta        BLOB NOT NULL
) STRICT;

-- The room's current state, one row per slot, kept in the transaction
-- that changes rooms.current_snapshot.
CREATE TABLE current_state (
    room_nid      INTEGER NOT NULL REFERENCES rooms (room_nid),
    type_nid      INTEGER NOT NULL,
    state_key_nid INTEGER NOT NULL,
    event_nid     INTEGER NOT NULL REFERENCES events (event_nid),
    PRIMARY KEY (room_nid, type_nid, state_key_nid)
) STRICT, WITHOUT ROWID;

-- The m.room.member slots of current_state with their membership value,
-- so "who is in this room" and "which rooms is this user in" are each one
-- indexed lookup. user_nid is the member event's state_key_nid.
-- stream_pos is the events stream position at which the row last changed.
CREATE TABLE memberships (
    room_nid   INTEGER NOT NULL REFERENCES rooms (room_nid),
    user_nid   INTEGER NOT NULL REFERENCES state_keys (state_key_nid),
    membership TEXT NOT NULL,
    event_nid  INTEGER NOT NULL REFERENCES events (event_nid),
    stream_pos INTEGER NOT NULL,
    PRIMARY KEY (room_nid, user_nid)
) STRICT, WITHOUT ROWID;

CREATE INDEX memberships_room ON memberships (room_nid, membership);
CREATE INDEX memberships_user ON memberships (user_nid, membership);

-- How many joined members each server has in each room, kept with
-- memberships, so a room's joined servers are read without scanning its
-- members.
CREATE TABLE room_joined_servers (
    room_nid     INTEGER NOT NULL REFERENCES rooms (room_nid),
    server_name  TEXT NOT NULL,
    joined_count INTEGER NOT NULL CHECK (joined_count >= 0),
    PRIMARY KEY (room_nid, server_name)
) STRICT, WITHOUT ROWID;
