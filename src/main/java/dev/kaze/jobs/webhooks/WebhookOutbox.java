package dev.kaze.jobs.webhooks;

import java.util.List;

/**
 * Where pending deliveries survive a restart. The dispatcher saves a delivery when it is
 * enqueued and marks it done once it is delivered or given up; on start it loads what is left
 * and sends it again with the same {@code webhook-id}. Implementations must be thread-safe;
 * {@link InMemoryWebhookOutbox} keeps nothing across restarts, a database table does.
 */
public interface WebhookOutbox {
    /** Records a delivery that is not yet done; saving the same message id again replaces it. */
    void save(WebhookDelivery delivery);

    /** Forgets the delivery of this message (delivered, or given up); unknown ids are ignored. */
    void markDone(String messageId);

    /** Every delivery saved and not marked done, in the order saved. */
    List<WebhookDelivery> loadPending();
}
