package dev.kaze.jobs;

import dev.kaze.jobs.webhooks.WebhookDispatcher;
import dev.kaze.jobs.webhooks.WebhookMessage;
import dev.kaze.jobs.webhooks.WebhookTarget;
import dev.kaze.json.Json;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

import java.net.URI;
import java.util.LinkedHashSet;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Sends each job's events to the webhook its request named, signed with the server's secret. The
 * message id is derived from the job and the event's sequence number, so a receiver can drop
 * duplicates (delivery is at least once; several replicas may relay the same event).
 */
public final class WebhookRelay implements AutoCloseable {
    private final JobStore store;
    private final WebhookDispatcher dispatcher;
    private final String secret;
    private final ExecutorService relay = Executors.newSingleThreadExecutor(r -> Thread.ofPlatform().name("kaze-webhooks").daemon().unstarted(r));
    private AutoCloseable subscription;

    public WebhookRelay(JobStore store, WebhookDispatcher dispatcher, String secret) {
        this.store = store;
        this.dispatcher = dispatcher;
        this.secret = secret;
    }

    public void start() {
        dispatcher.start();
        subscription = store.subscribe(e -> relay.execute(() -> relay(e)));
    }

    private void relay(JobEvent e) {
        JobEventType type = JobEventType.of(e.type()).orElse(null);
        if (type == null || !type.webhook()) return;
        Job job = store.find(e.jobId()).orElse(null);
        if (job == null || job.webhookJson() == null) return;
        JsonNode hook = Json.MAPPER.readTree(job.webhookJson());
        Set<String> events = new LinkedHashSet<>();
        hook.path("events").forEach(n -> events.add(n.asString()));
        WebhookTarget target = new WebhookTarget(URI.create(hook.get("url").asString()), events, secret);
        ObjectNode body = Json.MAPPER.createObjectNode();
        String object = job.kind() == JobKind.VIDEO ? "video" : "training";
        String self = (job.kind() == JobKind.VIDEO ? "/v1/videos/" : "/v1/trainings/") + job.id();
        body.put("type", object + "." + e.type());
        body.put("timestamp", e.at().toString());
        ObjectNode data = body.putObject("data");
        data.put("id", job.id());
        data.put("object", object);
        data.put("seq", e.seq());
        data.put("event", e.type());
        data.put("status", job.status().name().toLowerCase(Locale.ROOT));
        data.set("event_data", e.dataJson() == null || e.dataJson().isBlank() ? Json.MAPPER.createObjectNode() : Json.MAPPER.readTree(e.dataJson()));
        if (job.metadataJson() != null) data.set("metadata", Json.MAPPER.readTree(job.metadataJson()));
        if (type == JobEventType.COMPLETED && job.kind() == JobKind.VIDEO) {
            data.put("content_url", self + "/content");
            data.put("thumbnail_url", self + "/content?variant=thumbnail");
        }
        if (type == JobEventType.COMPLETED && job.kind() == JobKind.TRAINING) data.put("files_url", self + "/files");
        dispatcher.enqueue(target, new WebhookMessage("msg_" + job.id() + "_" + e.seq(), job.id(), e.seq(), e.type(), body.toString()));
    }

    @Override public void close() throws Exception {
        if (subscription != null) subscription.close();
        relay.shutdown();
        dispatcher.close();
    }
}
