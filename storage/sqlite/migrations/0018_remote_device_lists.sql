-- 0017: device lists of other servers' users (federated end-to-end
-- encryption), and the stream IDs this server announced for its own users.
-- Keep this file parallel with storage/postgres/migrations/0017_remote_device_lists.sql.

-- A tracked remote user: stream_id is the owner's stream ID the cached
-- list is current at; stale is 1 once an update was missed.
CREATE TABLE e2ee_remote_device_lists (
    user_id   TEXT PRIMARY KEY,
    stream_id INTEGER NOT NULL,
    stale     INTEGER NOT NULL DEFAULT 0
) STRICT;

-- key_json is '' for a device that has no keys.
CREATE TABLE e2ee_remote_devices (
    user_id      TEXT NOT NULL,
    device_id    TEXT NOT NULL,
    display_name TEXT NOT NULL,
    key_json     TEXT NOT NULL,
    PRIMARY KEY (user_id, device_id)
) STRICT;

-- key_type is master or self_signing.
CREATE TABLE e2ee_remote_cross_signing_keys (
    user_id  TEXT NOT NULL,
    key_type TEXT NOT NULL,
    key_json TEXT NOT NULL,
    PRIMARY KEY (user_id, key_type)
) STRICT;

-- The newest m.device_list_update stream ID of each local user (the
-- prev_id of the next one, and /user/devices' stream_id).
CREATE TABLE e2ee_local_device_list_ids (
    user_id   TEXT PRIMARY KEY,
    stream_id INTEGER NOT NULL
) STRICT;
