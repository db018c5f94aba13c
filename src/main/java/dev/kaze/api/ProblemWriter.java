package dev.kaze.api;

import dev.kaze.jobs.IdempotencyConflictException;
import dev.kaze.jobs.JobNotFoundException;
import dev.kaze.jobs.ProblemTypes;
import dev.kaze.jobs.QueueFullException;
import dev.kaze.json.Json;
import dev.kaze.pipeline.InvalidFieldException;
import io.netty.channel.ChannelException;
import io.netty.handler.timeout.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.core.codec.DecodingException;
import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.core.io.buffer.DataBufferLimitException;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.InvalidMediaTypeException;
import org.springframework.http.MediaType;
import org.springframework.http.ProblemDetail;
import org.springframework.web.reactive.resource.NoResourceFoundException;
import org.springframework.web.server.ResponseStatusException;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.ServerWebInputException;
import reactor.core.publisher.Mono;
import reactor.netty.channel.AbortedException;
import tools.jackson.databind.node.ObjectNode;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;

/** Turns every error into an RFC 9457 problem detail with a stable type URI. */
public final class ProblemWriter {
    private static final Logger log = LoggerFactory.getLogger(ProblemWriter.class);

    /** The problem for any exception (unknown ones become a 500 without internals). */
    public ProblemDetail problem(Throwable e, String instance) {
        ProblemDetail p;
        DataBufferLimitException limit = causeOf(e, DataBufferLimitException.class);
        if (limit != null && !(e instanceof ApiException) && !(e instanceof ValidationException)) e = limit;
        switch (e) {
            case ValidationException v -> {
                p = of(HttpStatus.BAD_REQUEST, "validation", "Invalid request", v.getMessage());
                p.setProperty("errors", v.errors());
            }
            case InvalidFieldException f -> {
                ValidationException v = ValidationException.of(f, "");
                p = of(HttpStatus.BAD_REQUEST, "validation", "Invalid request", v.getMessage());
                p.setProperty("errors", v.errors());
            }
            case ApiException a -> p = of(a.status(), a.type(), a.status().getReasonPhrase(), a.getMessage());
            case JobNotFoundException n -> p = of(HttpStatus.NOT_FOUND, "not-found", "Not Found", n.getMessage());
            case QueueFullException q -> {
                p = of(HttpStatus.TOO_MANY_REQUESTS, "queue-full", "Too Many Requests", q.getMessage());
                p.setProperty("retry_after", q.retryAfterSeconds());
            }
            case IdempotencyConflictException c -> p = of(HttpStatus.CONFLICT, "idempotency-conflict", "Conflict",
                    "this Idempotency-Key was used with a different request body; use a new key for a new request");
            case DataBufferLimitException l -> p = of(HttpStatus.PAYLOAD_TOO_LARGE, "payload-too-large", "Payload Too Large",
                    "the request body is larger than this server accepts (" + clean(l.getMessage()) + "); a video request is a small JSON object");
            case InvalidMediaTypeException m -> p = of(HttpStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", "Unsupported Media Type",
                    "the Content-Type is not a valid media type (" + clean(m.getMessage()) + "); send application/json");
            case DecodingException d -> p = of(HttpStatus.BAD_REQUEST, "bad-request", "Bad Request",
                    "the body could not be read: " + clean(d.getMessage()));
            case IllegalArgumentException i -> {
                String msg = i.getMessage() == null ? "invalid request" : i.getMessage();
                int colon = msg.indexOf(':');
                p = of(HttpStatus.BAD_REQUEST, "validation", "Invalid request", msg);
                if (colon > 0 && colon < 40 && !msg.substring(0, colon).contains(" "))
                    p.setProperty("errors", List.of(new FieldError(msg.substring(0, colon), msg.substring(colon + 1).strip())));
            }
            case NoResourceFoundException n -> p = of(HttpStatus.NOT_FOUND, "not-found", "Not Found",
                    "there is nothing at " + FieldError.clip(clean(instance), 100) + "; the API is under /v1/videos");
            case ServerWebInputException w -> p = of(HttpStatus.BAD_REQUEST, "bad-request", "Bad Request",
                    w.getReason() == null ? "the request could not be read" : clean(w.getReason())
                            + (w.getCause() instanceof DecodingException d ? ": " + clean(d.getMessage()) : ""));
            case ResponseStatusException r -> {
                HttpStatus s = HttpStatus.resolve(r.getStatusCode().value());
                if (s == null) s = r.getStatusCode().is4xxClientError() ? HttpStatus.BAD_REQUEST : HttpStatus.INTERNAL_SERVER_ERROR;
                if (s.is5xxServerError()) log.error("server error at {}", instance, e);
                p = of(s, slug(s), s.getReasonPhrase(), r.getReason() == null ? s.getReasonPhrase() : clean(r.getReason()));
            }
            case TimeoutException t -> p = of(HttpStatus.REQUEST_TIMEOUT, "request-timeout", "Request Timeout",
                    "the request body did not arrive in time; send it without pauses");
            case ChannelException t when t.getClass().getName().equals("reactor.netty.http.server.RequestTimeoutException") -> p = of(HttpStatus.REQUEST_TIMEOUT, "request-timeout", "Request Timeout",
                    "the request body did not arrive in time; send it without pauses");
            case AbortedException a -> {
                log.debug("connection closed at {}: {}", instance, a.getMessage());
                p = of(HttpStatus.BAD_REQUEST, "bad-request", "Bad Request", "the connection was closed before the request was read");
            }
            default -> {
                log.error("unexpected error at {}", instance, e);
                p = of(HttpStatus.INTERNAL_SERVER_ERROR, "internal", "Internal Server Error", "an unexpected error occurred; it was logged");
            }
        }
        if (instance != null) p.setInstance(URI.create(instance.replaceAll("[^A-Za-z0-9/_.~-]", "_")));
        return p;
    }

    /** Headers the answer to this error needs (Retry-After, Allow, Content-Range...). */
    public HttpHeaders headers(Throwable e) {
        HttpHeaders h = new HttpHeaders();
        switch (e) {
            case QueueFullException q -> h.set(HttpHeaders.RETRY_AFTER, Long.toString(q.retryAfterSeconds()));
            case ApiException a -> a.headers().forEach(h::set);
            case ResponseStatusException r -> h.putAll(r.getHeaders());
            default -> { }
        }
        return h;
    }

    private static <T extends Throwable> T causeOf(Throwable e, Class<T> type) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause())
            if (type.isInstance(t)) return type.cast(t);
        return null;
    }

    /** A framework message as a detail: at most 300 characters, no control characters. */
    static String clean(String message) {
        if (message == null) return "no reason given";
        StringBuilder b = new StringBuilder();
        message.codePoints().limit(300).forEach(c -> b.appendCodePoint(Character.isISOControl(c) ? ' ' : c));
        return b.toString().strip();
    }

    private static String slug(HttpStatusCode code) {
        HttpStatus s = HttpStatus.resolve(code.value());
        return s == null ? "error" : s.name().toLowerCase().replace('_', '-');
    }

    static ProblemDetail of(HttpStatus status, String type, String title, String detail) {
        ProblemDetail p = ProblemDetail.forStatusAndDetail(status, detail);
        p.setType(ProblemTypes.uri(type));
        p.setTitle(title);
        return p;
    }

    /** Writes the problem directly (for filters, outside the controllers). */
    public Mono<Void> write(ServerWebExchange exchange, Throwable e) {
        ProblemDetail p = problem(e, exchange.getRequest().getPath().value());
        var response = exchange.getResponse();
        response.setStatusCode(HttpStatusCode.valueOf(p.getStatus()));
        response.getHeaders().setContentType(MediaType.APPLICATION_PROBLEM_JSON);
        headers(e).forEach((name, values) -> response.getHeaders().put(name, values));
        byte[] body = toJson(p).getBytes(StandardCharsets.UTF_8);
        DataBuffer buffer = response.bufferFactory().wrap(body);
        return response.writeWith(Mono.just(buffer));
    }

    static String toJson(ProblemDetail p) {
        ObjectNode n = Json.MAPPER.createObjectNode();
        n.put("type", p.getType().toString());
        n.put("title", p.getTitle());
        n.put("status", p.getStatus());
        n.put("detail", p.getDetail());
        if (p.getInstance() != null) n.put("instance", p.getInstance().toString());
        if (p.getProperties() != null) p.getProperties().forEach((k, v) -> n.set(k, Json.MAPPER.valueToTree(v)));
        n.set("error", openAiError(p));
        return n.toString();
    }

    /**
     * The same error as OpenAI's API writes it ({@code {"error": {message, type, param, code}}}), beside the
     * problem's members, so OpenAI's SDKs raise their typed exceptions with Kaze's message and field.
     */
    private static ObjectNode openAiError(ProblemDetail p) {
        ObjectNode e = Json.MAPPER.createObjectNode();
        e.put("message", p.getDetail());
        e.put("type", p.getStatus() >= 500 ? "server_error" : p.getStatus() == 429 ? "rate_limit_error" : "invalid_request_error");
        Object errors = p.getProperties() == null ? null : p.getProperties().get("errors");
        if (errors instanceof List<?> list && !list.isEmpty() && list.getFirst() instanceof FieldError f) e.put("param", f.field());
        else e.putNull("param");
        String type = p.getType().toString();
        e.put("code", type.substring(type.lastIndexOf('/') + 1));
        return e;
    }
}
