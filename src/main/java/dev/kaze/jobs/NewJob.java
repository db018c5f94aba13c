package dev.kaze.jobs;

import java.util.Objects;

/**
 * What {@link JobStore#create} needs. {@code idempotencyKey} (optional) makes a retried submission return the first
 * job instead of a second one, as long as {@code requestHash} (the caller's hash of the canonical request) matches.
 */
public record NewJob(JobKind kind, String owner, int priority, String requestJson, String resolvedJson,
                     String metadataJson, String webhookJson, String idempotencyKey, String requestHash) {
    public static final int MAX_OWNER_LENGTH = 200;
    public static final int MAX_IDEMPOTENCY_KEY_LENGTH = 255;

    public NewJob {
        Objects.requireNonNull(kind, "a job needs a kind (VIDEO or TRAINING)");
        if (owner == null || owner.isBlank())
            throw new IllegalArgumentException("a job needs an owner (the API key's or user's id)");
        if (owner.length() > MAX_OWNER_LENGTH)
            throw new IllegalArgumentException("owner is longer than " + MAX_OWNER_LENGTH + " characters");
        Objects.requireNonNull(requestJson, "a job needs its request as JSON");
        if (idempotencyKey != null && (idempotencyKey.isEmpty() || idempotencyKey.length() > MAX_IDEMPOTENCY_KEY_LENGTH))
            throw new IllegalArgumentException("Idempotency-Key must be 1 to " + MAX_IDEMPOTENCY_KEY_LENGTH
                    + " characters, got " + idempotencyKey.length());
    }
}
