-- 0001: the foundation. This server's signing keys, local users, their
-- devices and their access tokens. Keep this file parallel with
-- storage/postgres/migrations/0001_init.sql: same tables, columns,
-- constraints and indexes, only the type names differ.
--
-- Tables that later tables will point at get integer surrogate keys (*_nid);
-- the Matrix string IDs appear once, in a unique column.
-- Timestamps are Unix milliseconds; booleans are 0/1.

CREATE TABLE server_signing_keys (
    key_id     TEXT PRIMARY KEY,
    public_key BLOB NOT NULL,
    created_ts INTEGER NOT NULL,
    expired_ts INTEGER NOT NULL DEFAULT 0 -- 0 while the key is current
) STRICT;

CREATE TABLE users (
    user_nid      INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL DEFAULT '', -- '' = no password login
    is_admin      INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),
    is_guest      INTEGER NOT NULL DEFAULT 0 CHECK (is_guest IN (0, 1)),
    deactivated   INTEGER NOT NULL DEFAULT 0 CHECK (deactivated IN (0, 1)),
    created_ts    INTEGER NOT NULL
) STRICT;

CREATE TABLE devices (
    device_nid   INTEGER PRIMARY KEY AUTOINCREMENT,
    user_nid     INTEGER NOT NULL REFERENCES users (user_nid),
    device_id    TEXT NOT NULL,
    display_name TEXT NOT NULL DEFAULT '',
    created_ts   INTEGER NOT NULL,
    last_seen_ts INTEGER NOT NULL DEFAULT 0,
    last_seen_ip TEXT NOT NULL DEFAULT '',
    UNIQUE (user_nid, device_id)
) STRICT;

-- Tokens are deleted explicitly before their device; the foreign key has no
-- ON DELETE action so that forgetting to do so fails instead of leaving
-- tokens that authenticate a device that no longer exists.
CREATE TABLE access_tokens (
    token_nid          INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash         BLOB NOT NULL UNIQUE, -- SHA-256 of the token
    device_nid         INTEGER NOT NULL REFERENCES devices (device_nid),
    created_ts         INTEGER NOT NULL,
    expires_ts         INTEGER NOT NULL DEFAULT 0, -- 0 = never
    refresh_token_hash BLOB UNIQUE                 -- NULL = no refresh token
) STRICT;

CREATE INDEX access_tokens_device_nid ON access_tokens (device_nid);
