package dev.kaze.jobs.webhooks;

import dev.kaze.jobs.JobEventType;

import java.net.URI;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Where one job's events go: an http(s) URL, the event types wanted and the signing secret.
 *
 * @param url    http or https, with a host, no {@code user:password@}, at most {@value #MAX_URL_LENGTH} characters
 * @param events names from {@link #EVENT_TYPES}; null or empty means {@link #DEFAULT_EVENTS} (the lifecycle
 *               events: not {@code progress}, which can fire many times a second, nor {@code checkpoint} or {@code sample})
 * @param secret {@code whsec_} + base64 of 24 to 64 bytes (see {@link WebhookSignature#newSecret()})
 */
public record WebhookTarget(URI url, Set<String> events, String secret) {
    public static final int MAX_URL_LENGTH = 2048;
    /**
     * Every job event type a webhook can receive, in lifecycle order ({@code checkpoint} and {@code sample}:
     * trainings only); the wire names of {@link JobEventType#webhookNames()}.
     */
    public static final List<String> EVENT_TYPES = JobEventType.webhookNames();
    /** What a target gets when it names no events: the lifecycle, not {@code progress}, {@code checkpoint} or {@code sample}. */
    public static final Set<String> DEFAULT_EVENTS = JobEventType.defaultWebhookNames();

    public WebhookTarget {
        url = checkUrl(url);
        events = checkEvents(events);
        WebhookSignature.key(secret);
    }

    /** Whether an event of this type is sent to this target. */
    public boolean accepts(String type) {
        return events.contains(type);
    }

    /** Leaves the secret out, so targets can be logged. */
    @Override
    public String toString() {
        return "WebhookTarget[url=" + url + ", events=" + events + ", secret=whsec_***]";
    }

    private static URI checkUrl(URI url) {
        if (url == null) throw new IllegalArgumentException("webhook url is missing");
        String text = url.toString();
        if (url.getRawUserInfo() != null) {
            throw new IllegalArgumentException("webhook url must not carry credentials (user:password@host);"
                    + " requests are signed, verify the webhook-signature header instead");
        }
        if (text.length() > MAX_URL_LENGTH) {
            throw new IllegalArgumentException("webhook url is " + text.length() + " characters long; at most "
                    + MAX_URL_LENGTH + " are allowed");
        }
        String scheme = url.getScheme() == null ? "" : url.getScheme().toLowerCase(Locale.ROOT);
        if (!url.isAbsolute() || !(scheme.equals("http") || scheme.equals("https"))) {
            throw new IllegalArgumentException("webhook url must start with http:// or https://, got " + text);
        }
        if (url.getHost() == null || url.getHost().isBlank()) {
            throw new IllegalArgumentException("webhook url must name a host (https://host/path), got " + text);
        }
        return url;
    }

    private static Set<String> checkEvents(Set<String> events) {
        if (events == null || events.isEmpty()) return DEFAULT_EVENTS;
        Set<String> checked = new LinkedHashSet<>();
        for (String event : events) {
            String name = event == null ? "" : event.strip().toLowerCase(Locale.ROOT);
            if (!EVENT_TYPES.contains(name)) {
                throw new IllegalArgumentException("unknown webhook event '" + event + "'; choose from "
                        + String.join(", ", EVENT_TYPES) + " (or name none to get all but progress)");
            }
            checked.add(name);
        }
        return Set.copyOf(checked);
    }
}
