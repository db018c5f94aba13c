package dev.kaze.jobs;

import java.util.Locale;

/**
 * How a run of a job on the device worker ended. A completed, cancelled or failed job is terminal in
 * the store; an interrupted one (the worker shut down) stays in progress and is requeued at the next start.
 */
public enum JobOutcome {
    COMPLETED, CANCELLED, FAILED, INTERRUPTED;

    /** The {@code outcome} tag of the job metrics ({@code completed}, …). */
    public String tag() {
        return name().toLowerCase(Locale.ROOT);
    }
}
