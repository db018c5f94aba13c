package dev.kaze.jobs.webhooks;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A {@link WebhookOutbox} in memory: pending deliveries outlive a dispatcher, not the process. */
public final class InMemoryWebhookOutbox implements WebhookOutbox {
    private final Map<String, WebhookDelivery> pending = new LinkedHashMap<>();

    @Override
    public synchronized boolean save(WebhookDelivery delivery) {
        pending.put(delivery.message().id(), delivery);
        return true;
    }

    @Override
    public synchronized void markDone(String messageId) {
        pending.remove(messageId);
    }

    @Override
    public synchronized List<WebhookDelivery> loadPending() {
        return List.copyOf(pending.values());
    }
}
