-- Webhook deliveries not yet done, kept so they survive a restart. Keep in step with ../postgresql/V2__webhook_outbox.sql.
-- The signing secret is not stored: the server signs with its current secret when it sends.
CREATE TABLE webhook_outbox (
    message_id    VARCHAR(256)  NOT NULL PRIMARY KEY,
    job_id        VARCHAR(64)   NOT NULL,
    seq           BIGINT        NOT NULL,
    type          VARCHAR(64)   NOT NULL,
    body          CHARACTER LARGE OBJECT NOT NULL,
    url           VARCHAR(2048) NOT NULL,
    events        VARCHAR(1000) NOT NULL,
    created_at    TIMESTAMP(6) WITH TIME ZONE NOT NULL,
    claimed_by    VARCHAR(200),
    claimed_until TIMESTAMP(6) WITH TIME ZONE,
    done_at       TIMESTAMP(6) WITH TIME ZONE
);
CREATE INDEX webhook_outbox_pending ON webhook_outbox (done_at, claimed_until);
