-- 0003: accounts. Profiles, erasure requests, registration tokens and the
-- links that let a refresh token stay usable until its successor is used.
-- Keep this file parallel with storage/postgres/migrations/0003_accounts.sql.

-- One row per local user. '' means the field is unset.
CREATE TABLE profiles (
    user_nid    INTEGER PRIMARY KEY REFERENCES users (user_nid),
    displayname TEXT NOT NULL DEFAULT '',
    avatar_url  TEXT NOT NULL DEFAULT ''
) STRICT;

-- Users created before profiles existed get their localpart as display
-- name, as a new registration does.
INSERT INTO profiles (user_nid, displayname)
    SELECT user_nid, substr(user_id, 2, instr(user_id, ':') - 2) FROM users;

-- Users who deactivated with erase: true. Room history served to later
-- joiners is redacted for them.
CREATE TABLE user_erasures (
    user_nid  INTEGER PRIMARY KEY REFERENCES users (user_nid),
    erased_ts INTEGER NOT NULL
) STRICT;

CREATE TABLE registration_tokens (
    token        TEXT PRIMARY KEY,
    uses_allowed INTEGER,                   -- NULL = unlimited
    pending      INTEGER NOT NULL DEFAULT 0, -- uses reserved by sign-ups in progress
    completed    INTEGER NOT NULL DEFAULT 0,
    expiry_ts    INTEGER NOT NULL DEFAULT 0, -- 0 = never
    created_ts   INTEGER NOT NULL,
    CHECK (pending >= 0 AND completed >= 0)
) STRICT;

-- A refreshed access token (new) and the one it replaces (old). The old
-- row keeps its refresh token valid until the new token is first used;
-- then the old row is deleted, and this link with it.
CREATE TABLE refresh_token_successors (
    old_token_nid INTEGER PRIMARY KEY REFERENCES access_tokens (token_nid) ON DELETE CASCADE,
    new_token_nid INTEGER NOT NULL UNIQUE REFERENCES access_tokens (token_nid) ON DELETE CASCADE
) STRICT;
