-- Jobs and artifacts, SQLite dialect. Keep in step with migrations/postgres/0002_jobs_artifacts.sql.
-- Applied once: never edit, add a migration.

-- A job: one tool call, one workflow run (whose id is the job's), or one call to an external
-- service. Leased and fenced like runs, so one worker runs it, on whichever replica claims it.
CREATE TABLE jobs (
    id          TEXT PRIMARY KEY NOT NULL,
    -- tool | workflow | service
    kind        TEXT NOT NULL,
    -- The configured job type it was submitted as, if any.
    job_type    TEXT,
    -- The tool name, the workflow name, or the service's base URL.
    target      TEXT NOT NULL,
    payload     TEXT NOT NULL,
    metadata    TEXT NOT NULL,
    status      TEXT NOT NULL,
    result      TEXT,
    error       TEXT,
    priority    BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL,
    started_at  BIGINT,
    finished_at BIGINT,
    -- How long it is kept once finished (ms); removed after that.
    ttl_ms      BIGINT,
    attempts    BIGINT NOT NULL DEFAULT 0,
    -- The artifact ids its payload referenced (JSON array): the dependencies of what it makes.
    inputs      TEXT NOT NULL DEFAULT '[]',
    -- cancel, until the lease holder acts on it.
    requested   TEXT,
    owner       TEXT,
    lease_until BIGINT,
    fence       BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX jobs_by_status ON jobs (status, priority, created_at);
CREATE INDEX jobs_by_created ON jobs (created_at);

-- Artifacts with their provenance. Inline content lives content-addressed in the state dir;
-- storage_location names it (or an external path or URI).
CREATE TABLE artifacts (
    id               TEXT PRIMARY KEY NOT NULL,
    name             TEXT NOT NULL,
    kind             TEXT NOT NULL,
    description      TEXT,
    storage_location TEXT NOT NULL,
    size_bytes       BIGINT,
    checksum         TEXT,
    mime_type        TEXT,
    -- JSON array of strings.
    tags             TEXT NOT NULL,
    metadata         TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    job_id           TEXT,
    service_id       TEXT,
    run_id           TEXT,
    step             TEXT
);
CREATE INDEX artifacts_by_job ON artifacts (job_id);
CREATE INDEX artifacts_by_created ON artifacts (created_at);

-- Lineage: artifact_id was made from depends_on.
CREATE TABLE artifact_deps (
    artifact_id TEXT NOT NULL REFERENCES artifacts (id) ON DELETE CASCADE,
    depends_on  TEXT NOT NULL,
    PRIMARY KEY (artifact_id, depends_on)
);
CREATE INDEX artifact_deps_by_parent ON artifact_deps (depends_on);
