-- Job store schema for H2 (the embedded default). Keep in step with ../postgresql/V1__jobs.sql.
CREATE TABLE jobs (
    id               VARCHAR(64)  NOT NULL PRIMARY KEY,
    kind             VARCHAR(16)  NOT NULL,
    owner            VARCHAR(200) NOT NULL,
    status           VARCHAR(16)  NOT NULL,
    priority         INTEGER      NOT NULL,
    request_json     CHARACTER LARGE OBJECT NOT NULL,
    resolved_json    CHARACTER LARGE OBJECT,
    metadata_json    CHARACTER LARGE OBJECT,
    webhook_json     CHARACTER LARGE OBJECT,
    progress         INTEGER      NOT NULL DEFAULT 0,
    stage            VARCHAR(64),
    step             INTEGER      NOT NULL DEFAULT 0,
    total_steps      INTEGER      NOT NULL DEFAULT 0,
    error_json       CHARACTER LARGE OBJECT,
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
CREATE INDEX jobs_claim_order ON jobs (status, priority DESC, created_at, id);
CREATE INDEX jobs_newest ON jobs (created_at DESC, id DESC);
CREATE INDEX jobs_owner_newest ON jobs (owner, created_at DESC, id DESC);

CREATE TABLE job_events (
    job_id    VARCHAR(64) NOT NULL,
    seq       BIGINT      NOT NULL,
    type      VARCHAR(64) NOT NULL,
    data_json CHARACTER LARGE OBJECT,
    at        TIMESTAMP(6) WITH TIME ZONE NOT NULL,
    CONSTRAINT job_events_pk PRIMARY KEY (job_id, seq),
    CONSTRAINT job_events_job_fk FOREIGN KEY (job_id) REFERENCES jobs (id) ON DELETE CASCADE
);

CREATE TABLE job_checkpoints (
    job_id VARCHAR(64) NOT NULL PRIMARY KEY,
    step   INTEGER     NOT NULL,
    state  BINARY LARGE OBJECT NOT NULL,
    at     TIMESTAMP(6) WITH TIME ZONE NOT NULL,
    CONSTRAINT job_checkpoints_job_fk FOREIGN KEY (job_id) REFERENCES jobs (id) ON DELETE CASCADE
);

CREATE TABLE job_workers (
    id           VARCHAR(200) NOT NULL PRIMARY KEY,
    heartbeat_at TIMESTAMP(6) WITH TIME ZONE NOT NULL
);
