-- 0004: what this server knows of other servers for federation: their
-- signing keys. Keep this file parallel with
-- storage/sqlite/migrations/0004_federation.sql: same tables, columns,
-- constraints and indexes, only the type names differ.
--
-- Timestamps are Unix milliseconds.

-- One row per key a remote server has published. Rows are never deleted
-- when a server stops listing a key: events it signed must stay verifiable.
CREATE TABLE remote_server_keys (
    server_name    TEXT NOT NULL,
    key_id         TEXT NOT NULL,
    public_key     BYTEA NOT NULL,
    valid_until_ts BIGINT NOT NULL DEFAULT 0, -- from the newest response listing it as current
    expired_ts     BIGINT NOT NULL DEFAULT 0, -- 0 while current; else from old_verify_keys
    fetched_ts     BIGINT NOT NULL,
    PRIMARY KEY (server_name, key_id)
);

-- The newest signed key response of each remote server, kept whole so that
-- this server can serve it as a notary with the origin's own signature.
CREATE TABLE remote_server_key_responses (
    server_name    TEXT PRIMARY KEY,
    response_json  BYTEA NOT NULL,
    valid_until_ts BIGINT NOT NULL,
    fetched_ts     BIGINT NOT NULL
);
