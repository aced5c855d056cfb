-- The workflow store, PostgreSQL dialect. Keep in step with migrations/sqlite/0001_init.sql: the
-- same tables and columns, so one set of queries serves both. Times are unix milliseconds; JSON
-- is TEXT. Applied once (sqlx's _sqlx_migrations checksums it): never edit, add a migration.

-- Workflow definitions, content-addressed: a run is pinned to the exact definition it started with.
CREATE TABLE definitions (
    sha256     TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    version    TEXT NOT NULL,
    body       TEXT NOT NULL,
    -- Bookkeeping only (nothing reads it back), so the database's clock is good enough.
    created_at BIGINT NOT NULL DEFAULT (CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT))
);

CREATE TABLE runs (
    id             TEXT PRIMARY KEY NOT NULL,
    workflow       TEXT NOT NULL,
    definition_sha TEXT NOT NULL REFERENCES definitions (sha256),
    status         TEXT NOT NULL,
    input          TEXT NOT NULL,
    output         TEXT,
    error          TEXT,
    priority       BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL,
    started_at     BIGINT,
    finished_at    BIGINT,
    deadline_at    BIGINT,
    -- pause | resume | cancel, until the lease holder acts on it.
    requested      TEXT,
    -- The lease: who drives the run, until when; fence counts claims, and every write of the
    -- holder is conditional on it.
    owner          TEXT,
    lease_until    BIGINT,
    fence          BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX runs_by_status ON runs (status);
CREATE INDEX runs_by_owner ON runs (owner);
CREATE INDEX runs_by_created ON runs (created_at);

CREATE TABLE steps (
    run_id        TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    -- Definition order.
    position      BIGINT NOT NULL,
    status        TEXT NOT NULL,
    attempts      BIGINT NOT NULL DEFAULT 0,
    output        TEXT,
    error         TEXT,
    started_at    BIGINT,
    finished_at   BIGINT,
    -- Order of completion within the run: compensation runs in reverse of it.
    completed_seq BIGINT,
    -- A child's task id, when the step runs as a child's task.
    task_id       TEXT,
    PRIMARY KEY (run_id, name)
);

-- Append-only.
CREATE TABLE events (
    seq    BIGSERIAL PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    at     BIGINT NOT NULL,
    kind   TEXT NOT NULL,
    step   TEXT,
    detail TEXT NOT NULL
);
CREATE INDEX events_by_run ON events (run_id, seq);
