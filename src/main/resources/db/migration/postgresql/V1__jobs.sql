-- Job store schema for PostgreSQL (several replicas). Keep in step with ../h2/V1__jobs.sql.
-- Ids compare bytewise (COLLATE "C") so claim order and list cursors do not depend on the database locale.
CREATE TABLE jobs (
    id               VARCHAR(64)  COLLATE "C" NOT NULL PRIMARY KEY,
    kind             VARCHAR(16)  NOT NULL,
    owner            VARCHAR(200) NOT NULL,
    status           VARCHAR(16)  NOT NULL,
    priority         INTEGER      NOT NULL,
    request_json     TEXT         NOT NULL,
    resolved_json    TEXT,
    metadata_json    TEXT,
    webhook_json     TEXT,
    progress         INTEGER      NOT NULL DEFAULT 0,
    stage            VARCHAR(64),
    step             INTEGER      NOT NULL DEFAULT 0,
    total_steps      INTEGER      NOT NULL DEFAULT 0,
    error_json       TEXT,
    idempotency_key  VARCHAR(255),
    request_hash     VARCHAR(128),
    worker_id        VARCHAR(200),
    cancel_requested BOOLEAN      NOT NULL DEFAULT FALSE,
    created_at       TIMESTAMP(6) WITH TIME ZONE NOT NULL,
    started_at       TIMESTAMP(6) WITH TIME ZONE,
    completed_at     TIMESTAMP(6) WITH TIME ZONE,
    last_seq         BIGINT       NOT NULL DEFAULT 0,
    CONSTRAINT jobs_kind_ck CHECK (kind IN ('VIDEO', 'TRAINING')),
    CONSTRAINT jobs_status_ck CHECK (status IN ('QUEUED', 'IN_PROGRESS', 'COMPLETED', 'FAILED', 'CANCELLED'))
);
-- NULL keys never collide, so only jobs submitted with a key are constrained
CREATE UNIQUE INDEX jobs_owner_idempotency_key ON jobs (owner, idempotency_key);
CREATE INDEX jobs_claim_order ON jobs (priority DESC, created_at, id) WHERE status = 'QUEUED';
CREATE INDEX jobs_in_progress ON jobs (worker_id) WHERE status = 'IN_PROGRESS';
CREATE INDEX jobs_newest ON jobs (created_at DESC, id DESC);
CREATE INDEX jobs_owner_newest ON jobs (owner, created_at DESC, id DESC);

CREATE TABLE job_events (
    job_id    VARCHAR(64) COLLATE "C" NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    seq       BIGINT      NOT NULL,
    type      VARCHAR(64) NOT NULL,
    data_json TEXT,
    at        TIMESTAMP(6) WITH TIME ZONE NOT NULL,
    CONSTRAINT job_events_pk PRIMARY KEY (job_id, seq)
);

CREATE TABLE job_checkpoints (
    job_id VARCHAR(64) COLLATE "C" NOT NULL PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    step   INTEGER     NOT NULL,
    state  BYTEA       NOT NULL,
    at     TIMESTAMP(6) WITH TIME ZONE NOT NULL
);

CREATE TABLE job_workers (
    id           VARCHAR(200) NOT NULL PRIMARY KEY,
    heartbeat_at TIMESTAMP(6) WITH TIME ZONE NOT NULL
);
