-- 0008: the full-text index of server-side search.
-- Keep this file parallel with storage/postgres/migrations/0008_search.sql.
--
-- One document per indexed event, its rowid the event's event_nid; the
-- text itself stays in events.json (contentless table), and rows can still
-- be deleted, which redactions need. The porter stemmer over unicode61
-- (diacritics folded) matches English word forms, as PostgreSQL's
-- 'english' configuration does on the other engine.
-- Events persisted before this migration are not indexed.
CREATE VIRTUAL TABLE event_search USING fts5(
    text,
    content = '',
    contentless_delete = 1,
    tokenize = 'porter unicode61 remove_diacritics 2'
);
