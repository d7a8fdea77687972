-- One row per connected Zoom user. Times are Unix milliseconds (UTC), as in every table here.
-- access_token and refresh_token hold values sealed with AES-256-GCM (internal/seal), bound to
-- the row's zoom_user_id and to the column: never a token in plain text.
CREATE TABLE connections (
    id                TEXT PRIMARY KEY,
    zoom_user_id      TEXT NOT NULL UNIQUE,
    zoom_account_id   TEXT NOT NULL,
    email             TEXT NOT NULL,
    ref               TEXT,
    status            TEXT NOT NULL CHECK (status IN ('active', 'reauthorization_required')),
    scopes            TEXT NOT NULL, -- space-separated, as Zoom grants them
    access_token      BYTEA NOT NULL,
    refresh_token     BYTEA NOT NULL,
    access_expires_at BIGINT NOT NULL,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    refreshed_at      BIGINT NOT NULL,
    last_error        TEXT
);
CREATE INDEX connections_email ON connections (lower(email));
CREATE INDEX connections_ref ON connections (ref);
