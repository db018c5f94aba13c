-- What each job used of the device (seconds per stage, peak memory, model and LoRA identities). Keep in step with
-- ../h2/V3__job_usage.sql. No foreign key: usage outlives a deleted job, for accounting.
CREATE TABLE job_usage (
    job_id              VARCHAR(64)  COLLATE "C" NOT NULL PRIMARY KEY,
    owner               VARCHAR(200) NOT NULL,
    kind                VARCHAR(16)  NOT NULL,
    device_seconds      DOUBLE PRECISION NOT NULL,
    stages_json         TEXT         NOT NULL,
    peak_memory_bytes   BIGINT,
    peak_memory_source  VARCHAR(32),
    model               VARCHAR(1000),
    loras_json          TEXT         NOT NULL,
    recorded_at         TIMESTAMP(6) WITH TIME ZONE NOT NULL
);
CREATE INDEX job_usage_owner_time ON job_usage (owner, recorded_at);
CREATE INDEX job_usage_time ON job_usage (recorded_at);
