package dev.kaze.api;

import dev.kaze.jobs.JobEvents;
import dev.kaze.jobs.JobKind;
import dev.kaze.jobs.JobNotFoundException;
import dev.kaze.jobs.JobQueue;
import org.springframework.web.reactive.socket.CloseStatus;
import org.springframework.web.reactive.socket.WebSocketHandler;
import org.springframework.web.reactive.socket.WebSocketSession;
import org.springframework.web.util.UriComponentsBuilder;
import org.springframework.web.util.UriTemplate;
import reactor.core.publisher.Mono;

import java.util.Map;

/**
 * {@code /v1/videos/{id}/events} and {@code /v1/trainings/{id}/events} over WebSocket: the job's
 * events as JSON text frames, replayed from {@code ?after=N} and then live; closes normally after
 * the terminal event. Only the job's owner may subscribe (the handshake carries the caller from
 * {@link ApiKeyFilter}); a job of the other kind is not found.
 */
public final class JobEventsSocket implements WebSocketHandler {
    private final UriTemplate path;
    private final JobKind kind;
    private final JobQueue queue;
    private final JobEvents events;
    private final ApiKeyFilter keys;

    public JobEventsSocket(JobKind kind, JobQueue queue, JobEvents events, ApiKeyFilter keys) {
        this.kind = kind;
        this.path = new UriTemplate(pathOf(kind));
        this.queue = queue;
        this.events = events;
        this.keys = keys;
    }

    /** The URL template of a kind's event stream. */
    public static String pathOf(JobKind kind) {
        return switch (kind) {
            case VIDEO -> "/v1/videos/{id}/events";
            case TRAINING -> "/v1/trainings/{id}/events";
        };
    }

    @Override
    public Mono<Void> handle(WebSocketSession session) {
        Caller caller = keys.authenticate(session.getHandshakeInfo().getHeaders(), session.getHandshakeInfo().getUri());
        Map<String, String> vars = path.match(session.getHandshakeInfo().getUri().getPath());
        String id = vars.get("id");
        long after;
        try {
            var q = UriComponentsBuilder.fromUri(session.getHandshakeInfo().getUri()).build().getQueryParams();
            after = EventFrames.after(q.getFirst("after"));
        } catch (ValidationException e) {
            return session.close(CloseStatus.POLICY_VIOLATION.withReason("after must be an event sequence number"));
        }
        if (caller == null) return session.close(CloseStatus.POLICY_VIOLATION.withReason("unauthorized"));
        return Requests.blocking(() -> queue.get(caller.owner(), Requests.checkId(id), kind))
                .flatMap(job -> session.send(events.stream(job.id(), after).map(e -> session.textMessage(EventFrames.json(e))))
                        .then(session.close(CloseStatus.NORMAL)))
                .onErrorResume(JobNotFoundException.class, e -> session.close(new CloseStatus(4404, kind == JobKind.VIDEO ? "no such video" : "no such training")));
    }
}
