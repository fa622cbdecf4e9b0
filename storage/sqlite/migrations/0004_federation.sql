-- 0004: what this server knows of other servers for federation: their
-- signing keys. Keep this file parallel with
-- storage/postgres/migrations/0004_federation.sql: same tables, columns,
-- constraints and indexes, only the type names differ.
--
-- Timestamps are Unix milliseconds.

-- One row per key a remote server has published. Rows are never deleted
-- when a server stops listing a key: events it signed must stay verifiable.
CREATE TABLE remote_server_keys (
    server_name    TEXT NOT NULL,
    key_id         TEXT NOT NULL,
    public_key     BLOB NOT NULL,
    valid_until_ts INTEGER NOT NULL DEFAULT 0, -- from the newest response listing it as current
    expired_ts     INTEGER NOT NULL DEFAULT 0, -- 0 while current; else from old_verify_keys
    fetched_ts     INTEGER NOT NULL,
    PRIMARY KEY (server_name, key_id)
) STRICT;

-- The newest signed key response of each remote server, kept whole so that
-- this server can serve it as a notary with the origin's own signature.
CREATE TABLE remote_server_key_responses (
    server_name    TEXT PRIMARY KEY,
    response_json  BLOB NOT NULL,
    valid_until_ts INTEGER NOT NULL,
    fetched_ts     INTEGER NOT NULL
) STRICT;
