package dev.kaze.jobs.webhooks;

import java.util.Objects;

/** One message bound for one target: the unit the dispatcher sends and the outbox keeps. */
public record WebhookDelivery(WebhookTarget target, WebhookMessage message) {
    public WebhookDelivery {
        Objects.requireNonNull(target, "webhook delivery needs a target");
        Objects.requireNonNull(message, "webhook delivery needs a message");
    }
}
