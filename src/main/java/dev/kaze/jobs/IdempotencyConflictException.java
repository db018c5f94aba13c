package dev.kaze.jobs;

/** The owner already used this Idempotency-Key for a different request (another request hash). */
public class IdempotencyConflictException extends RuntimeException {
    private final String existingJobId;

    public IdempotencyConflictException(String idempotencyKey, String existingJobId) {
        super("Idempotency-Key '" + idempotencyKey + "' was already used for job " + existingJobId
                + " with a different request; send a new key for a new request");
        this.existingJobId = existingJobId;
    }

    public String existingJobId() {
        return existingJobId;
    }
}
