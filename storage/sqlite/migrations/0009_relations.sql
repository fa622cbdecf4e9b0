-- 0009: event relationships (content.m.relates_to) for /relations,
-- /threads and the aggregations bundled in unsigned.m.relations. Keep this
-- file parallel with storage/postgres/migrations/0009_relations.sql.
--
-- A row exists for each accepted timeline event (not outlier, rejected or
-- soft-failed) whose content names a parent with a rel_type. It is written
-- in the transaction that persists the event and removed when the event
-- is redacted, since a redaction strips m.relates_to and so breaks the
-- relationship. The parent may not be stored (yet): relates_to_id is text.
CREATE TABLE event_relations (
    event_nid        INTEGER PRIMARY KEY REFERENCES events (event_nid),
    event_id         TEXT NOT NULL,
    relates_to_id    TEXT NOT NULL,
    rel_type         TEXT NOT NULL,
    room_nid         INTEGER NOT NULL REFERENCES rooms (room_nid),
    type_nid         INTEGER NOT NULL,
    sender           TEXT NOT NULL,
    origin_server_ts INTEGER NOT NULL,
    topo_depth       INTEGER NOT NULL,
    stream_pos       INTEGER NOT NULL,
    -- 1 when the event could replace its parent: it carries m.new_content
    -- (or is encrypted, where the server cannot look) and no state key.
    replaces         INTEGER NOT NULL CHECK (replaces IN (0, 1))
) STRICT;

-- Children of a parent in topological order, all or of one rel_type; and
-- by sender, newest first, for the latest edit and thread participation.
CREATE INDEX event_relations_parent ON event_relations (relates_to_id, rel_type, topo_depth, stream_pos);
CREATE INDEX event_relations_parent_topo ON event_relations (relates_to_id, topo_depth, stream_pos);
CREATE INDEX event_relations_sender ON event_relations (relates_to_id, rel_type, sender, origin_server_ts);

-- One row per thread root of a room, pointing at the thread's latest
-- event (topologically), so /threads pages through a room's threads by
-- latest activity without scanning every threaded event, and the m.thread
-- aggregation reads its count and latest event with one lookup. The root
-- is named by ID: it may not be stored (yet).
CREATE TABLE event_threads (
    root_id      TEXT NOT NULL,
    room_nid     INTEGER NOT NULL REFERENCES rooms (room_nid),
    latest_id    TEXT NOT NULL,
    topo_depth   INTEGER NOT NULL, -- the latest event's position
    stream_pos   INTEGER NOT NULL,
    thread_count INTEGER NOT NULL,
    PRIMARY KEY (root_id, room_nid)
) STRICT, WITHOUT ROWID;

CREATE INDEX event_threads_latest ON event_threads (room_nid, topo_depth, stream_pos);
