package dev.kaze.jobs;

/** Lifecycle of a job: QUEUED → IN_PROGRESS → one of the terminal states (CANCELLED also straight from QUEUED). */
public enum JobStatus {
    QUEUED, IN_PROGRESS, COMPLETED, FAILED, CANCELLED;

    /** True for COMPLETED, FAILED and CANCELLED: nothing moves a job out of these. */
    public boolean terminal() {
        return this == COMPLETED || this == FAILED || this == CANCELLED;
    }
}
