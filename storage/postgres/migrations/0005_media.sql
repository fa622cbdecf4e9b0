-- 0005: the media repository. Metadata of uploaded (and, later, cached
-- remote) content and of generated thumbnails; the bytes live in files
-- under the media directory, named by their SHA-256.
-- Keep this file parallel with storage/sqlite/migrations/0005_media.sql.

-- One row per mxc://server_name/media_id. A row made by
-- POST /_matrix/media/v1/create is pending until content arrives:
-- uploaded_ts = 0 and sha256 = '' until then. The uploader is the user ID
-- as text, not a users key: cached remote media has no local uploader,
-- and media outlives the account that uploaded it.
CREATE TABLE media (
    server_name       TEXT NOT NULL,
    media_id          TEXT NOT NULL,
    uploader          TEXT NOT NULL DEFAULT '',
    content_type      TEXT NOT NULL DEFAULT '',
    filename          TEXT NOT NULL DEFAULT '',
    size              BIGINT  NOT NULL DEFAULT 0,
    sha256            TEXT NOT NULL DEFAULT '',
    created_ts        BIGINT  NOT NULL,
    uploaded_ts       BIGINT  NOT NULL DEFAULT 0,
    unused_expires_ts BIGINT  NOT NULL DEFAULT 0, -- pending rows only
    quarantined       BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (server_name, media_id)
);

-- Counting a user's pending uploads (the create rate bound) reads only
-- pending rows.
CREATE INDEX media_pending_by_uploader ON media (uploader, unused_expires_ts)
    WHERE uploaded_ts = 0;

-- Files are shared between rows with equal content; this finds the rows
-- that still use a file before it may be deleted.
CREATE INDEX media_by_sha256 ON media (sha256);

-- Thumbnails, keyed by their source and the size and method they were made
-- for.
CREATE TABLE media_thumbnails (
    server_name  TEXT NOT NULL,
    media_id     TEXT NOT NULL,
    width        BIGINT  NOT NULL,
    height       BIGINT  NOT NULL,
    method       TEXT NOT NULL CHECK (method IN ('crop', 'scale')),
    content_type TEXT NOT NULL,
    size         BIGINT  NOT NULL,
    sha256       TEXT NOT NULL,
    created_ts   BIGINT  NOT NULL,
    PRIMARY KEY (server_name, media_id, width, height, method),
    FOREIGN KEY (server_name, media_id) REFERENCES media (server_name, media_id) ON DELETE CASCADE
);

CREATE INDEX media_thumbnails_by_sha256 ON media_thumbnails (sha256);
