-- 0008: the full-text index of server-side search.
-- Keep this file parallel with storage/sqlite/migrations/0008_search.sql.
--
-- One row per indexed event: its text as a tsvector of the 'english'
-- configuration (stemmed, stop words dropped), under a GIN index for @@.
-- Events persisted before this migration are not indexed.
CREATE TABLE event_search (
    event_nid BIGINT PRIMARY KEY REFERENCES events (event_nid),
    vector    TSVECTOR NOT NULL
);
CREATE INDEX event_search_vector ON event_search USING GIN (vector);
