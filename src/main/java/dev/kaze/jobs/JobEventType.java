package dev.kaze.jobs;

import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Every type of job event, with the name it has on the wire (in the store, the event stream and
 * webhooks), whether it ends the job's log, and whether a webhook may ask for it. The one list of
 * event types: webhook targets, the event stream and the runners all read it from here.
 */
public enum JobEventType {
    // in lifecycle order: the order webhook documentation and error messages list them in
    QUEUED("queued", Webhook.BY_DEFAULT, null),
    STARTED("started", Webhook.BY_DEFAULT, null),
    PROGRESS("progress", Webhook.ON_REQUEST, null),
    CHECKPOINT("checkpoint", Webhook.ON_REQUEST, JobKind.TRAINING),
    SAMPLE("sample", Webhook.ON_REQUEST, JobKind.TRAINING),
    PREVIEW("preview", Webhook.ON_REQUEST, JobKind.VIDEO),
    COMPLETED("completed", Webhook.BY_DEFAULT, null),
    FAILED("failed", Webhook.BY_DEFAULT, null),
    CANCELLED("cancelled", Webhook.BY_DEFAULT, null),
    // recorded in the log and the event stream only
    CANCEL_REQUESTED("cancel_requested", Webhook.NEVER, null),
    REQUEUED("requeued", Webhook.NEVER, null),
    RESUMED("resumed", Webhook.NEVER, null),
    NOTES("notes", Webhook.NEVER, JobKind.TRAINING),
    DATASET_WARNINGS("dataset_warnings", Webhook.NEVER, JobKind.TRAINING),
    LORA("lora", Webhook.NEVER, JobKind.TRAINING),
    VALIDATION("validation", Webhook.NEVER, JobKind.TRAINING);

    /** Whether webhooks get an event type: when they name no events, only when they name it, or never. */
    private enum Webhook { BY_DEFAULT, ON_REQUEST, NEVER }

    private final String wireName;
    private final Webhook webhook;
    private final JobKind onlyFor;

    JobEventType(String wireName, Webhook webhook, JobKind onlyFor) {
        this.wireName = wireName;
        this.webhook = webhook;
        this.onlyFor = onlyFor;
    }

    /** The name in the store, the event stream and webhook bodies ({@code queued}, {@code cancel_requested}, …). */
    public String wireName() { return wireName; }

    /** completed, failed and cancelled: nothing follows them in a job's log. */
    public boolean terminal() { return this == COMPLETED || this == FAILED || this == CANCELLED; }

    /** Whether a webhook can ask for this event. */
    public boolean webhook() { return webhook != Webhook.NEVER; }

    /** The type with that wire name, if any. */
    public static Optional<JobEventType> of(String wireName) {
        return Arrays.stream(values()).filter(t -> t.wireName.equals(wireName)).findFirst();
    }

    /** Whether the event named so ends its job's log. */
    public static boolean isTerminal(String wireName) {
        return of(wireName).map(JobEventType::terminal).orElse(false);
    }

    /** Wire names of every event a webhook can ask for, in lifecycle order. */
    public static List<String> webhookNames() {
        return Arrays.stream(values()).filter(JobEventType::webhook).map(JobEventType::wireName).toList();
    }

    /** Wire names of the events a webhook of a job of this kind can ask for, in lifecycle order. */
    public static List<String> webhookNames(JobKind kind) {
        return Arrays.stream(values()).filter(t -> t.webhook() && (t.onlyFor == null || t.onlyFor == kind))
                .map(JobEventType::wireName).toList();
    }

    /** Wire names of what a webhook gets when it names no events: the lifecycle, not progress, checkpoints or samples. */
    public static Set<String> defaultWebhookNames() {
        return Arrays.stream(values()).filter(t -> t.webhook == Webhook.BY_DEFAULT).map(JobEventType::wireName)
                .collect(Collectors.toUnmodifiableSet());
    }
}
