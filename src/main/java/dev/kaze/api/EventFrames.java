package dev.kaze.api;

import dev.kaze.jobs.Job;
import dev.kaze.jobs.JobEvent;
import dev.kaze.jobs.JobEvents;
import dev.kaze.jobs.JobKind;
import dev.kaze.json.Json;
import org.springframework.http.codec.ServerSentEvent;
import reactor.core.publisher.Flux;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * One event as every channel sends it: {@code {"video_id","seq","type","at","data"}} ({@code training_id} for trainings). A live event reaches every
 * subscriber of its job as the same {@link JobEvent}, so its frame is rendered once and shared: a small fixed table of
 * recently rendered frames, indexed by job and seq (a slot holds one frame; a colliding event replaces it).
 */
final class EventFrames {
    private static final int SLOTS = 1024;
    private static final AtomicReferenceArray<Rendered> RECENT = new AtomicReferenceArray<>(SLOTS);

    private record Rendered(JobEvent event, String json) {}

    private EventFrames() {}

    private static JsonNode data(JobEvent e) {
        if (e.dataJson() == null || e.dataJson().isBlank()) return Json.MAPPER.createObjectNode();
        return Json.MAPPER.readTree(e.dataJson());
    }

    static String json(JobEvent e) {
        int slot = (e.jobId().hashCode() * 31 + Long.hashCode(e.seq())) & (SLOTS - 1);
        Rendered r = RECENT.get(slot);
        if (r != null && (r.event() == e || r.event().equals(e))) return r.json();
        String json = render(e);
        RECENT.set(slot, new Rendered(e, json));
        return json;
    }

    private static String render(JobEvent e) {
        ObjectNode n = Json.MAPPER.createObjectNode();
        n.put(JobKind.ofId(e.jobId()) == JobKind.TRAINING ? "training_id" : "video_id", e.jobId());
        n.put("seq", e.seq());
        n.put("type", e.type());
        n.put("at", e.at().toString());
        n.set("data", data(e));
        return n.toString();
    }

    /** The event log of the job {@code find} returns (blocking; 404 through it) over SSE, after Last-Event-ID or else ?after=. */
    static Flux<ServerSentEvent<String>> sse(JobEvents events, String lastEventId, String after, Callable<Job> find) {
        long from = lastEventId != null ? after(lastEventId, "Last-Event-ID") : after(after, "after");
        return Requests.blocking(find)
                .flatMapMany(job -> events.stream(job.id(), from))
                .map(e -> ServerSentEvent.builder(json(e)).id(Long.toString(e.seq())).event(e.type()).build());
    }

    /** A resume point: the sequence number after which to send, 0 for all. */
    static long after(String value) { return after(value, "after"); }

    /** A resume point from the named parameter or header. */
    static long after(String value, String field) {
        if (value == null || value.isBlank()) return 0;
        try {
            long v = Long.parseLong(value.strip());
            if (v < 0) throw ValidationException.of(field, "must be a non-negative event sequence number");
            return v;
        } catch (NumberFormatException e) {
            throw ValidationException.of(field, "must be an event sequence number");
        }
    }
}
