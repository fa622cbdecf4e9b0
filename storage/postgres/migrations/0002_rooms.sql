-- 0002: rooms, their events (the DAG) and room state. Keep this file
-- parallel with storage/sqlite/migrations/0002_rooms.sql: same tables,
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
    position BIGINT NOT NULL
);

INSERT INTO stream_positions (stream, position) VALUES ('events', 0), ('backfill', 0);

CREATE TABLE event_types (
    type_nid BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    type     TEXT NOT NULL UNIQUE
);

-- State keys, and user IDs wherever a user is named by the state key of
-- their m.room.member event (the memberships table).
CREATE TABLE state_keys (
    state_key_nid BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    state_key     TEXT NOT NULL UNIQUE
);

CREATE TABLE rooms (
    room_nid         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    room_id          TEXT NOT NULL UNIQUE,
    room_version     TEXT NOT NULL,
    created_stream   BIGINT NOT NULL, -- events stream position at creation
    partial_state    BOOLEAN NOT NULL DEFAULT FALSE,
    current_snapshot BIGINT NOT NULL DEFAULT 0 -- state_snapshots; 0 = empty state
);

-- Every event, valid or not. Outliers have no stream_pos, topo_depth or
-- state_before. Timeline events have a stream_pos (> 0, or < 0 when
-- backfilled) and sort topologically by (topo_depth, stream_pos), where
-- topo_depth is the depth except for backfilled events, which are placed
-- before the room's earliest.
CREATE TABLE events (
    event_nid        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id         TEXT NOT NULL UNIQUE,
    room_nid         BIGINT NOT NULL REFERENCES rooms (room_nid),
    type_nid         BIGINT NOT NULL REFERENCES event_types (type_nid),
    state_key_nid    BIGINT REFERENCES state_keys (state_key_nid), -- NULL: not a state event
    sender           TEXT NOT NULL,
    depth            BIGINT NOT NULL,
    origin_server_ts BIGINT NOT NULL,
    json             BYTEA NOT NULL, -- as received
    outlier          BOOLEAN NOT NULL,
    rejected         TEXT,           -- NULL, or why auth rejected it
    soft_failed      BOOLEAN NOT NULL,
    redacted_because TEXT,           -- event ID of the redaction, once known
    stream_pos       BIGINT UNIQUE,
    topo_depth       BIGINT,
    state_before     BIGINT          -- state_snapshots; 0 = empty state
);

CREATE INDEX events_room_stream ON events (room_nid, stream_pos);
CREATE INDEX events_room_topo ON events (room_nid, topo_depth, stream_pos);

-- prev_events (kind 0) and auth_events (kind 1) of each stored event, by
-- event ID since they may name events not stored yet. The key answers
-- "which events reference X".
CREATE TABLE event_edges (
    ref_event_id TEXT NOT NULL,
    kind         SMALLINT NOT NULL CHECK (kind IN (0, 1)),
    event_nid    BIGINT NOT NULL REFERENCES events (event_nid),
    PRIMARY KEY (ref_event_id, kind, event_nid)
);

CREATE TABLE forward_extremities (
    room_nid  BIGINT NOT NULL REFERENCES rooms (room_nid),
    event_nid BIGINT NOT NULL REFERENCES events (event_nid),
    PRIMARY KEY (room_nid, event_nid)
);

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
    block_nid    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    content_hash BYTEA NOT NULL UNIQUE,
    entry_count  BIGINT NOT NULL,
    entries      BYTEA NOT NULL
);

CREATE TABLE state_keyframes (
    keyframe_nid BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    room_nid     BIGINT NOT NULL REFERENCES rooms (room_nid),
    content_hash BYTEA NOT NULL UNIQUE,
    block_count  BIGINT NOT NULL,
    entry_count  BIGINT NOT NULL,
    block_nids   BYTEA NOT NULL
);

CREATE TABLE state_snapshots (
    snapshot_nid BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    room_nid     BIGINT NOT NULL REFERENCES rooms (room_nid),
    keyframe_nid BIGINT NOT NULL, -- state_keyframes; 0 = the empty state
    content_hash BYTEA NOT NULL UNIQUE,
    delta_count  BIGINT NOT NULL,
    delta        BYTEA NOT NULL
);

-- The room's current state, one row per slot, kept in the transaction
-- that changes rooms.current_snapshot.
CREATE TABLE current_state (
    room_nid      BIGINT NOT NULL REFERENCES rooms (room_nid),
    type_nid      BIGINT NOT NULL,
    state_key_nid BIGINT NOT NULL,
    event_nid     BIGINT NOT NULL REFERENCES events (event_nid),
    PRIMARY KEY (room_nid, type_nid, state_key_nid)
);

-- The m.room.member slots of current_state with their membership value,
-- so "who is in this room" and "which rooms is this user in" are each one
-- indexed lookup. user_nid is the member event's state_key_nid.
-- stream_pos is the events stream position at which the row last changed.
CREATE TABLE memberships (
    room_nid   BIGINT NOT NULL REFERENCES rooms (room_nid),
    user_nid   BIGINT NOT NULL REFERENCES state_keys (state_key_nid),
    membership TEXT NOT NULL,
    event_nid  BIGINT NOT NULL REFERENCES events (event_nid),
    stream_pos BIGINT NOT NULL,
    PRIMARY KEY (room_nid, user_nid)
);

CREATE INDEX memberships_room ON memberships (room_nid, membership);
CREATE INDEX memberships_user ON memberships (user_nid, membership);

-- How many joined members each server has in each room, kept with
-- memberships, so a room's joined servers are read without scanning its
-- members.
CREATE TABLE room_joined_servers (
    room_nid     BIGINT NOT NULL REFERENCES rooms (room_nid),
    server_name  TEXT NOT NULL,
    joined_count BIGINT NOT NULL CHECK (joined_count >= 0),
    PRIMARY KEY (room_nid, server_name)
);
