-- An event that kept failing for days is kept as failed (failed_at set) for an operator to see
-- and replay, and no longer holds back later events of its subject. A receiver that answers
-- 410 Gone pauses every delivery (one row here) until an operator resumes it.
ALTER TABLE events ADD COLUMN failed_at BIGINT;
CREATE TABLE event_delivery_paused (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    paused_at BIGINT NOT NULL,
    reason    TEXT NOT NULL
);
