package dev.kaze.jobs;

/** The database refused or failed a job store operation; the message names the operation and the cause. */
public class JobStoreException extends RuntimeException {
    public JobStoreException(String message, Throwable cause) {
        super(message, cause);
    }
}
