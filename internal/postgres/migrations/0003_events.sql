-- The outbox of connection events, written in the transaction of the change that caused each.
-- seq orders a connection's events; connection_id has no foreign key, because a
-- connection.deleted event outlives its connection.
CREATE TABLE events (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    connection_id   TEXT NOT NULL,
    type            TEXT NOT NULL,
    payload         TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_error      TEXT
);
CREATE INDEX events_connection ON events (connection_id, seq);
CREATE INDEX events_due ON events (next_attempt_at);
