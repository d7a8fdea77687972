-- Zoom's stop_reason of a stopped stream (0: none given), so that a worker, a dispatcher and an
-- operator learn whether it may be restarted; and the index GET /admin/rtms/streams?meeting_id=
-- reads.
ALTER TABLE rtms_streams ADD COLUMN stop_reason INTEGER NOT NULL DEFAULT 0;
CREATE INDEX rtms_streams_meeting ON rtms_streams (meeting_id, started_at);
