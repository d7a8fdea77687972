-- Which connection hosts meeting N: the host's own token makes its join tokens.
CREATE TABLE meetings (
    meeting_id    INTEGER PRIMARY KEY,
    connection_id TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX meetings_connection ON meetings (connection_id);
