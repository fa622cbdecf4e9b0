-- 0019: account locks and suspensions (PUT /admin/lock|suspend/{userId}),
-- reports about users (POST /users/{userId}/report) and single-use login
-- tokens (POST /login/get_token, the m.login.token login).
-- Keep this file parallel with storage/sqlite/migrations/0019_account_moderation.sql.

-- Both are reversible flags an administrator sets; neither touches the
-- account's tokens or devices.
ALTER TABLE users ADD COLUMN locked BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN suspended BOOLEAN NOT NULL DEFAULT FALSE;

-- Reports wait for the server's administrators, like content_reports.
CREATE TABLE user_reports (
    report_nid     BIGSERIAL PRIMARY KEY,
    target_user_id TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    reason         TEXT NOT NULL,
    received_ts    BIGINT NOT NULL
);

-- Only the SHA-256 of a token is kept. A login deletes the row it uses;
-- expired rows are deleted when new tokens are issued.
CREATE TABLE login_tokens (
    token_hash BYTEA PRIMARY KEY,
    user_id    TEXT NOT NULL,
    expires_ts BIGINT NOT NULL
);
CREATE INDEX login_tokens_expiry ON login_tokens (expires_ts);
