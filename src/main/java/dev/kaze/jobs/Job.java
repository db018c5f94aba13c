package dev.kaze.jobs;

import java.time.Instant;
import java.util.Objects;

/**
 * One stored job. JSON columns are kept as the caller's text (the store never parses them);
 * timestamps are UTC instants with microsecond precision; startedAt/completedAt are null until then.
 */
public record Job(String id, JobKind kind, String owner, JobStatus status, int priority, String requestJson,
                  String resolvedJson, String metadataJson, String webhookJson, int progress, String stage, int step,
                  int totalSteps, String errorJson, String idempotencyKey, String requestHash, String workerId,
                  boolean cancelRequested, Instant createdAt, Instant startedAt, Instant completedAt) {
    public Job {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(status, "status");
        Objects.requireNonNull(createdAt, "createdAt");
    }

    /** QUEUED or IN_PROGRESS. */
    public boolean active() {
        return !status.terminal();
    }
}
