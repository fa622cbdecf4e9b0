-- 0001: the foundation. This server's signing keys, local users, their
-- devices and their access tokens. Keep this file parallel with
-- storage/sqlite/migrations/0001_init.sql: same tables, columns,
-- constraints and indexes, only the type names differ.
--
-- Tables that later tables will point at get integer surrogate keys (*_nid);
-- the Matrix string IDs appear once, in a unique column.
-- Timestamps are Unix milliseconds.

CREATE TABLE server_signing_keys (
    key_id     TEXT PRIMARY KEY,
    public_key BYTEA NOT NULL,
    created_ts BIGINT NOT NULL,
    expired_ts BIGINT NOT NULL DEFAULT 0 -- 0 while the key is current
);

CREATE TABLE users (
    user_nid      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL DEFAULT '', -- '' = no password login
    is_admin      BOOLEAN NOT NULL DEFAULT FALSE,
    is_guest      BOOLEAN NOT NULL DEFAULT FALSE,
    deactivated   BOOLEAN NOT NULL DEFAULT FALSE,
    created_ts    BIGINT NOT NULL
);

CREATE TABLE devices (
    device_nid   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_nid     BIGINT NOT NULL REFERENCES users (user_nid),
    device_id    TEXT NOT NULL,
    display_name TEXT NOT NULL DEFAULT '',
    created_ts   BIGINT NOT NULL,
    last_seen_ts BIGINT NOT NULL DEFAULT 0,
    last_seen_ip TEXT NOT NULL DEFAULT '',
    UNIQUE (user_nid, device_id)
);

-- Tokens are deleted explicitly before their device; the foreign key has no
-- ON DELETE action so that forgetting to do so fails instead of leaving
-- tokens that authenticate a device that no longer exists.
CREATE TABLE access_tokens (
    token_nid          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash         BYTEA NOT NULL UNIQUE, -- SHA-256 of the token
    device_nid         BIGINT NOT NULL REFERENCES devices (device_nid),
    created_ts         BIGINT NOT NULL,
    expires_ts         BIGINT NOT NULL DEFAULT 0, -- 0 = never
    refresh_token_hash BYTEA UNIQUE                -- NULL = no refresh token
);

CREATE INDEX access_tokens_device_nid ON access_tokens (device_nid);
