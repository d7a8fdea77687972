-- When the user last connected (the consent, not a refresh): an app_deauthorized whose
-- deauthorization_time is earlier was overtaken by a reconnect, or is a replay, and changes
-- nothing. Rows from before this column take their last refresh, which is no earlier than their
-- last connect.
ALTER TABLE connections ADD COLUMN connected_at BIGINT NOT NULL DEFAULT 0;
UPDATE connections SET connected_at = refreshed_at;
