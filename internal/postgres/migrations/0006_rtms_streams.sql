-- Realtime Media Streams, as verified webhooks announced them. Every replica answers a worker
-- from here; a stream is deleted RTMS_STREAM_TTL after its last event. No signature is stored:
-- it is derived from the RTMS app's secret when asked for.
CREATE TABLE rtms_streams (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    meeting_uuid TEXT NOT NULL,
    meeting_id   BIGINT NOT NULL,
    server_urls  TEXT NOT NULL,
    account_id   TEXT NOT NULL,
    state        TEXT NOT NULL,
    started_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX rtms_streams_updated ON rtms_streams (updated_at);
