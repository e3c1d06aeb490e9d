-- ResumableUpload.Stores.PostgreSql, migration 002: tombstones, so a deleted upload's fencing token is remembered.
--
-- A fenced delete (under a lease, token > 0) no longer removes the record's row: it turns it into a tombstone
-- (deleted_at set, expires_at 'infinity' so the expiry sweep never lists it, metadata emptied) that keeps the deleting
-- holder's fencing_token. The row's existing checks then fence it like any record: a holder with an older token can
-- neither claim it (UPDATE ... WHERE fencing_token < $token) nor re-create it (INSERT ... ON CONFLICT DO UPDATE ...
-- WHERE fencing_token <= $token). Keeping the tombstone in the records table, rather than in a table of its own, keeps
-- every check one statement on one row: the row lock orders a save, a claim and a delete of one key without a
-- cross-table race. Readers ignore rows with deleted_at set; the expiry sweep prunes tombstones older than a day.
--
-- Idempotent, like 001. psql, with the same variables as 001 plus the derived index name:
--
--   psql -1 -v ON_ERROR_STOP=1 -v schema=public -v records_table=resumable_upload_records \
--        -v records_deleted_index=resumable_upload_records_deleted_at_idx \
--        -v migrations_table=resumable_upload_records_migrations -f 002_tombstones.sql "host=... dbname=... user=..."

ALTER TABLE :"schema".:"records_table" ADD COLUMN IF NOT EXISTS deleted_at timestamptz NULL;

-- The pruning: WHERE deleted_at < now() - retention. Partial: only tombstones are indexed.
CREATE INDEX IF NOT EXISTS :"records_deleted_index" ON :"schema".:"records_table" (deleted_at) WHERE deleted_at IS NOT NULL;

INSERT INTO :"schema".:"migrations_table" (version, name) VALUES (2, '002_tombstones') ON CONFLICT (version) DO NOTHING;
