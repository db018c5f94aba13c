package dev.kaze.jobs.webhooks;

import java.time.Duration;
import java.util.List;

/**
 * Where pending deliveries survive a restart. The dispatcher saves a delivery when it is
 * enqueued and marks it done once it is delivered or given up; on start, and then every third of
 * the {@link #lease()}, it claims what is left (by an earlier process, or by a replica that died)
 * and sends it again with the same {@code webhook-id}, and renews the claims it holds.
 * Implementations must be thread-safe; {@link InMemoryWebhookOutbox} keeps nothing across
 * restarts, a database table ({@code dev.kaze.jobs.store.JdbcWebhookOutbox}) does.
 */
public interface WebhookOutbox {
    /**
     * Records a delivery that is not yet done, held by this outbox.
     *
     * @return true when this outbox holds it and the caller should send it; false when the same
     * message id was saved before by another holder (another replica relayed the same event) or
     * is already done, so it must not be sent again from here
     */
    boolean save(WebhookDelivery delivery);

    /** Forgets the delivery of this message (delivered, or given up); unknown ids are ignored. */
    void markDone(String messageId);

    /** Every delivery saved and not marked done, in the order saved, whoever holds it. */
    List<WebhookDelivery> loadPending();

    /**
     * Takes the pending deliveries nobody holds (never claimed, or their holder's claim ran out)
     * and holds them for {@link #lease()}; the ones returned are for this caller alone to send.
     */
    default List<WebhookDelivery> claimPending() {
        return loadPending();
    }

    /** Extends every claim this outbox holds by another {@link #lease()}. */
    default void renewClaims() {
    }

    /** How long a claim holds without renewal; {@link Duration#ZERO} when claims need no renewal (one process). */
    default Duration lease() {
        return Duration.ZERO;
    }
}
