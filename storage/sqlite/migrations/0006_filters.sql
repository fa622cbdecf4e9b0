-- 0006: /sync filters uploaded with POST /user/{userId}/filter.
-- Keep this file parallel with storage/postgres/migrations/0006_filters.sql.

-- A filter's ID is its filter_nid in decimal. The owner is the user ID as
-- text: a filter is looked up by (user, ID), never joined. The same JSON
-- saved again by the same user gets the same row, found by its SHA-256
-- (a hash, not the JSON itself, keeps the unique index small).
CREATE TABLE filters (
    filter_nid  INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     TEXT NOT NULL,
    filter_hash TEXT NOT NULL,
    filter_json TEXT NOT NULL,
    UNIQUE (user_id, filter_hash)
) STRICT;
