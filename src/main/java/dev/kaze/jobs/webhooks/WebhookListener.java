package dev.kaze.jobs.webhooks;

import java.time.Duration;

/**
 * Hears what became of each delivery, to record it on the job and count it in metrics. Called
 * on the dispatcher's threads (and, for a full queue, on the caller's); keep it quick. An
 * exception thrown here is logged and otherwise ignored.
 */
public interface WebhookListener {
    WebhookListener NONE = new WebhookListener() {
    };

    /** The receiver answered 2xx on attempt number {@code attempt} (1 for the first try). */
    default void delivered(WebhookMessage message, int attempt, int status) {
    }

    /** Attempt number {@code attempt} failed for {@code reason}; the next one starts after {@code delay}. */
    default void retrying(WebhookMessage message, int attempt, String reason, Duration delay) {
    }

    /**
     * The message was given up after {@code attempts} attempts (0 when it was never sent), for
     * {@code reason}: a 4xx answer, the last retry failing, or a full queue.
     */
    default void failed(WebhookMessage message, int attempts, String reason) {
    }
}
