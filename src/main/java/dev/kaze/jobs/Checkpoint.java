package dev.kaze.jobs;

import java.time.Instant;
import java.util.Objects;

/** The latest render checkpoint of a job: the step it was taken after and the worker's opaque state bytes. */
public record Checkpoint(String jobId, int step, byte[] state, Instant at) {
    public Checkpoint {
        Objects.requireNonNull(jobId, "jobId");
        Objects.requireNonNull(state, "state");
        Objects.requireNonNull(at, "at");
    }

    @Override
    public String toString() {
        return "Checkpoint[jobId=" + jobId + ", step=" + step + ", state=" + state.length + " bytes, at=" + at + "]";
    }
}
