package dev.kaze.jobs.webhooks;

import dev.kaze.jobs.JobEventType;

import java.util.HexFormat;
import java.util.UUID;

/**
 * One job event to deliver.
 *
 * @param id    the {@code webhook-id}: unique per message and unchanged across retries and
 *              restarts, so receivers can drop duplicates; visible ASCII, at most 256 characters
 * @param jobId the job it belongs to; messages of one job are delivered one at a time in {@code seq} order
 * @param seq   the event's sequence number within its job
 * @param type  the wire name of a {@link JobEventType} webhooks can receive ({@link WebhookTarget#EVENT_TYPES})
 * @param json  the request body, sent byte for byte as given (the Standard Webhooks envelope
 *              {@code {"type":..,"timestamp":..,"data":{..}}} is built by the caller)
 */
public record WebhookMessage(String id, String jobId, long seq, String type, String json) {
    public WebhookMessage {
        if (id == null || id.isEmpty() || id.length() > 256 || !id.chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
            throw new IllegalArgumentException("webhook message id must be 1 to 256 visible ASCII characters, got '" + id + "'");
        }
        if (jobId == null || jobId.isBlank()) throw new IllegalArgumentException("webhook message " + id + " has no job id");
        if (seq < 0) throw new IllegalArgumentException("webhook message " + id + " has a negative seq " + seq);
        if (!JobEventType.of(type).map(JobEventType::webhook).orElse(false)) {
            throw new IllegalArgumentException("webhook message " + id + " has type '" + type + "'; it must be one of "
                    + String.join(", ", WebhookTarget.EVENT_TYPES));
        }
        if (json == null || json.isBlank()) throw new IllegalArgumentException("webhook message " + id + " has an empty body");
    }

    /** A message with a fresh id. */
    public static WebhookMessage of(String jobId, long seq, String type, String json) {
        return new WebhookMessage(newId(), jobId, seq, type, json);
    }

    /** {@code msg_} followed by 32 random hex digits. */
    public static String newId() {
        UUID u = UUID.randomUUID();
        HexFormat hex = HexFormat.of();
        return "msg_" + hex.toHexDigits(u.getMostSignificantBits()) + hex.toHexDigits(u.getLeastSignificantBits());
    }
}
