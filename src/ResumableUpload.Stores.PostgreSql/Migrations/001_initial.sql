-- ResumableUpload.Stores.PostgreSql, migration 001: the upload records, the upload leases and the fencing sequence.
--
-- Idempotent: every object is created only when it is missing, so running it twice changes nothing. The stores run it
-- themselves when CreateSchemaOnStartup is true (in one transaction, under pg_advisory_xact_lock, so several instances
-- starting at once do not race). A DBA can run it instead with psql: the names are psql variables, quoted as
-- identifiers where they are used, shown here with their defaults:
--
--   psql -1 -v ON_ERROR_STOP=1 \
--        -v schema=public \
--        -v records_table=resumable_upload_records \
--        -v records_expiry_index=resumable_upload_records_expires_at_idx \
--        -v leases_table=resumable_upload_leases \
--        -v fencing_sequence=resumable_upload_leases_token_seq \
--        -v migrations_table=resumable_upload_records_migrations \
--        -f 001_initial.sql "host=... dbname=... user=..."
--
-- The derived names follow the table names: {records_table}_expires_at_idx, {leases_table}_token_seq and
-- {records_table}_migrations. Later migrations (002_*.sql, ...) add a row to the migrations table; the stores run the
-- ones whose version is not there yet.

CREATE SCHEMA IF NOT EXISTS :"schema";

-- One row per migration applied, so future migrations know where the schema stands.
CREATE TABLE IF NOT EXISTS :"schema".:"migrations_table" (
    version     integer     PRIMARY KEY,
    name        text        NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per upload: what IUploadStateStore saves (UploadRecord). Rows are replaced whole by one INSERT ... ON
-- CONFLICT statement that refuses a record whose fencing_token is lower than the stored one.
CREATE TABLE IF NOT EXISTS :"schema".:"records_table" (
    key                    text        PRIMARY KEY,          -- 64 lowercase hex characters derived by the engine
    partition              text        NOT NULL,
    file_id                text        NOT NULL,             -- the client's id, for diagnostics only
    "offset"               bigint      NOT NULL,
    length                 bigint      NULL,
    is_completed           boolean     NOT NULL,
    created_at             timestamptz NOT NULL,
    updated_at             timestamptz NOT NULL,
    expires_at             timestamptz NOT NULL,
    is_partial             boolean     NOT NULL DEFAULT false,
    parts                  jsonb       NULL,                 -- JSON array of strings, or NULL
    part_references        jsonb       NULL,                 -- JSON array of strings, or NULL
    representation_digest  text        NULL,
    -- json, not jsonb: a tus client's metadata values are decoded from base64 and may hold U+0000, which jsonb
    -- refuses. The object is only ever read back whole.
    metadata               json        NOT NULL,
    fencing_token          bigint      NOT NULL DEFAULT 0
);

-- The expiry sweep: WHERE expires_at <= now.
CREATE INDEX IF NOT EXISTS :"records_expiry_index" ON :"schema".:"records_table" (expires_at);

-- Fencing tokens: every grant of a lease takes the next value, so tokens only grow, for every key, forever.
CREATE SEQUENCE IF NOT EXISTS :"schema".:"fencing_sequence" AS bigint;

-- One row per held (or expired, not yet taken over) upload lock. expires_at is computed with the database's clock,
-- never an app instance's. handover_token = token means another instance asked the holder to let go.
CREATE TABLE IF NOT EXISTS :"schema".:"leases_table" (
    key             text        PRIMARY KEY,
    token           bigint      NOT NULL,
    expires_at      timestamptz NOT NULL,
    handover_token  bigint      NULL
);

INSERT INTO :"schema".:"migrations_table" (version, name) VALUES (1, '001_initial') ON CONFLICT (version) DO NOTHING;
