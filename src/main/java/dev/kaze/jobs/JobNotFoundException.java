package dev.kaze.jobs;

/** A job-changing call named a job id that is not (or no longer) in the store. */
public class JobNotFoundException extends RuntimeException {
    private final String jobId;

    public JobNotFoundException(String jobId) {
        super("no job with id '" + jobId + "' (it never existed or was deleted)");
        this.jobId = jobId;
    }

    public String jobId() {
        return jobId;
    }
}
