-- OAuth states already used by a connect callback (as SHA-256 hashes), so each is used once even
-- across replicas. Rows past expires_at are deleted as new ones arrive.
CREATE TABLE oauth_states (
    state_hash TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
