-- Webhook deliveries not yet done, kept so they survive a restart. Keep in step with ../h2/V2__webhook_outbox.sql.
-- The signing secret is not stored: the server signs with its current secret when it sends.
-- A replica claims a row for a lease (claimed_by, claimed_until) and renews it while it sends; when a replica dies
-- its claims run out and another takes them over (FOR UPDATE SKIP LOCKED, so two never claim the same row).
CREATE TABLE webhook_outbox (
    message_id    VARCHAR(256)  COLLATE "C" NOT NULL PRIMARY KEY,
    job_id        VARCHAR(64)   COLLATE "C" NOT NULL,
    seq           BIGINT        NOT NULL,
    type          VARCHAR(64)   NOT NULL,
    body          TEXT          NOT NULL,
    url           VARCHAR(2048) NOT NULL,
    events        VARCHAR(1000) NOT NULL,
    created_at    TIMESTAMP(6) WITH TIME ZONE NOT NULL,
    claimed_by    VARCHAR(200),
    claimed_until TIMESTAMP(6) WITH TIME ZONE,
    done_at       TIMESTAMP(6) WITH TIME ZONE
);
CREATE INDEX webhook_outbox_pending ON webhook_outbox (claimed_until) WHERE done_at IS NULL;
CREATE INDEX webhook_outbox_done ON webhook_outbox (done_at) WHERE done_at IS NOT NULL;
