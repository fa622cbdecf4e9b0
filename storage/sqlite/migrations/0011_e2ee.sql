-- 0011: end-to-end encryption plumbing: device and one-time keys, fallback
-- keys, cross-signing keys and signatures, the device list and to-device
-- streams, and server-side key backup.
-- Keep this file parallel with storage/postgres/migrations/0011_e2ee.sql.
--
-- Key JSON is stored as the client uploaded it (text): the server forwards
-- keys faithfully and never needs to look inside them by SQL.

-- Each stream's position is a counter row. A write to a stream bumps it
-- first, in its own transaction: the row lock makes a second writer wait
-- until the first commits, so positions become visible in order and a
-- /sync that has read up to N never misses a later-committed N-1.
CREATE TABLE e2ee_stream_positions (
    stream TEXT PRIMARY KEY,
    pos    INTEGER NOT NULL
) STRICT;
INSERT INTO e2ee_stream_positions (stream, pos) VALUES ('to_device', 0), ('device_lists', 0);

CREATE TABLE e2ee_device_keys (
    user_id   TEXT NOT NULL,
    device_id TEXT NOT NULL,
    key_json  TEXT NOT NULL,
    PRIMARY KEY (user_id, device_id)
) STRICT;

-- key_id is "algorithm:id"; algorithm is kept apart for counting and claims.
-- upload_seq numbers the device's /keys/upload calls: keys are claimed in
-- upload order (keys of one call in key ID order).
CREATE TABLE e2ee_one_time_keys (
    user_id    TEXT NOT NULL,
    device_id  TEXT NOT NULL,
    algorithm  TEXT NOT NULL,
    key_id     TEXT NOT NULL,
    key_json   TEXT NOT NULL,
    upload_seq INTEGER NOT NULL,
    PRIMARY KEY (user_id, device_id, key_id)
) STRICT;
CREATE INDEX e2ee_one_time_keys_by_algorithm ON e2ee_one_time_keys (user_id, device_id, algorithm, upload_seq, key_id);

-- One fallback key per device and algorithm; used is 1 once claimed.
CREATE TABLE e2ee_fallback_keys (
    user_id   TEXT NOT NULL,
    device_id TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    key_id    TEXT NOT NULL,
    key_json  TEXT NOT NULL,
    used      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, device_id, algorithm)
) STRICT;

-- key_type is master, self_signing or user_signing.
CREATE TABLE e2ee_cross_signing_keys (
    user_id  TEXT NOT NULL,
    key_type TEXT NOT NULL,
    key_json TEXT NOT NULL,
    PRIMARY KEY (user_id, key_type)
) STRICT;

-- A signature by signer's key signer_key_id ("ed25519:...") of the target
-- user's key target_key_id (a device ID or a cross-signing public key).
CREATE TABLE e2ee_key_signatures (
    signer_user_id  TEXT NOT NULL,
    signer_key_id   TEXT NOT NULL,
    target_user_id  TEXT NOT NULL,
    target_key_id   TEXT NOT NULL,
    signature       TEXT NOT NULL,
    PRIMARY KEY (target_user_id, target_key_id, signer_user_id, signer_key_id)
) STRICT;

-- The device list stream: at pos, user_id's devices or keys changed
-- (kind 'k'), or user_id joined ('j') or left ('l') room_id, which changes
-- who shares a room with whom.
CREATE TABLE e2ee_device_list_stream (
    pos     INTEGER NOT NULL,
    user_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    kind    TEXT NOT NULL
) STRICT;
CREATE INDEX e2ee_device_list_stream_pos ON e2ee_device_list_stream (pos);

-- Pending to-device messages, deleted once the device's sync acknowledges
-- them. One send puts at most one message on each device, at one pos.
CREATE TABLE e2ee_to_device (
    user_id      TEXT NOT NULL,
    device_id    TEXT NOT NULL,
    pos          INTEGER NOT NULL,
    sender       TEXT NOT NULL,
    event_type   TEXT NOT NULL,
    content_json TEXT NOT NULL,
    PRIMARY KEY (user_id, device_id, pos)
) STRICT;

-- Transaction IDs seen from a sending device, for idempotent sends.
CREATE TABLE e2ee_to_device_txns (
    user_id    TEXT NOT NULL,
    device_id  TEXT NOT NULL,
    txn_id     TEXT NOT NULL,
    created_ts INTEGER NOT NULL,
    PRIMARY KEY (user_id, device_id, txn_id)
) STRICT;

-- Key backup versions; deleted ones stay (deleted = 1) so a version number
-- is never reused for a user.
CREATE TABLE e2ee_backup_versions (
    user_id   TEXT NOT NULL,
    version   INTEGER NOT NULL,
    algorithm TEXT NOT NULL,
    auth_data TEXT NOT NULL,
    etag      INTEGER NOT NULL DEFAULT 0,
    deleted   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, version)
) STRICT;

CREATE TABLE e2ee_backup_keys (
    user_id             TEXT NOT NULL,
    version             INTEGER NOT NULL,
    room_id             TEXT NOT NULL,
    session_id          TEXT NOT NULL,
    first_message_index INTEGER NOT NULL,
    forwarded_count     INTEGER NOT NULL,
    is_verified         INTEGER NOT NULL,
    session_data        TEXT NOT NULL,
    PRIMARY KEY (user_id, version, room_id, session_id)
) STRICT;
