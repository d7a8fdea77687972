-- Every ref a connection was connected under resolves to it: several of the operator's people
-- can share one Zoom account. connections.ref stays the latest; connections.refs lists them all
-- (a JSON array, oldest first) so reading a connection is still one row; this table is the
-- index lookups use.
CREATE TABLE connection_refs (
    connection_id TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    ref           TEXT NOT NULL,
    added_at      INTEGER NOT NULL,
    PRIMARY KEY (connection_id, ref)
);
CREATE INDEX connection_refs_ref ON connection_refs (ref);
INSERT INTO connection_refs (connection_id, ref, added_at)
    SELECT id, ref, updated_at FROM connections WHERE ref IS NOT NULL;
ALTER TABLE connections ADD COLUMN refs TEXT NOT NULL DEFAULT '[]';
UPDATE connections SET refs = json_array(ref) WHERE ref IS NOT NULL;
