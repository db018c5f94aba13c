package dev.kaze.jobs;

import java.time.Instant;
import java.util.Objects;

/**
 * One entry of a job's event log. {@code seq} counts 1, 2, 3 … per job without gaps (1 is "queued"), so a
 * client that saw seq n resumes with {@code events(jobId, n)}. Types the store itself appends: queued, started,
 * cancel_requested, requeued, completed, failed, cancelled; callers add their own (progress, preview, …).
 */
public record JobEvent(String jobId, long seq, String type, String dataJson, Instant at) {
    public JobEvent {
        Objects.requireNonNull(jobId, "jobId");
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(at, "at");
        if (seq < 1) throw new IllegalArgumentException("event seq starts at 1, got " + seq);
    }
}
