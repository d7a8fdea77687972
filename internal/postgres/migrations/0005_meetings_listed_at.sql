-- When a connection's meetings were last listed from Zoom (Unix milliseconds; NULL: never), so
-- the daily re-listing runs once per connection across replicas.
ALTER TABLE connections ADD COLUMN meetings_listed_at BIGINT;
