-- The webhook relay's catch-up reads the events appended in a recent window (JdbcJobStore.webhookEventsSince).
CREATE INDEX job_events_at ON job_events (at);
