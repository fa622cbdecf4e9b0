-- 0016: content reports (POST /rooms/{roomId}/report[/{eventId}]) and
-- OpenID tokens (POST /user/{userId}/openid/request_token).
-- Keep this file parallel with storage/postgres/migrations/0016_reports_openid.sql.

-- Reports wait for the server's administrators. event_id is '' for a
-- report about the room itself. score is NULL when the client gave none.
CREATE TABLE content_reports (
    report_nid  INTEGER PRIMARY KEY AUTOINCREMENT,
    room_id     TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    reason      TEXT NOT NULL,
    score       INTEGER,
    received_ts INTEGER NOT NULL
) STRICT;

-- Only the SHA-256 of a token is kept, as for access tokens. Expired rows
-- are deleted when new tokens are issued.
CREATE TABLE openid_tokens (
    token_hash BLOB PRIMARY KEY,
    user_id    TEXT NOT NULL,
    expires_ts INTEGER NOT NULL
) STRICT;
CREATE INDEX openid_tokens_expiry ON openid_tokens (expires_ts);
