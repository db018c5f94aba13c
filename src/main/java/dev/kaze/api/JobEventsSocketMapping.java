package dev.kaze.api;

import dev.kaze.jobs.JobEvents;
import dev.kaze.jobs.JobKind;
import dev.kaze.jobs.JobQueue;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.web.reactive.handler.SimpleUrlHandlerMapping;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Mono;

import java.util.Base64;
import java.util.Map;

/**
 * Routes WebSocket upgrades of {@code /v1/videos/{id}/events} and {@code /v1/trainings/{id}/events}
 * to a {@link JobEventsSocket}; the same paths without an upgrade are the SSE endpoints. A handshake
 * that RFC 6455 would refuse (a version other than 13, a key that is not 16 bytes in base64) is
 * answered with a problem instead of an upgrade.
 */
public final class JobEventsSocketMapping extends SimpleUrlHandlerMapping {
    public JobEventsSocketMapping(JobQueue queue, JobEvents events, ApiKeyFilter keys) {
        super(Map.of(
                "/v1/videos/*/events", new JobEventsSocket(JobKind.VIDEO, queue, events, keys),
                "/v1/trainings/*/events", new JobEventsSocket(JobKind.TRAINING, queue, events, keys)), -1);
    }

    @Override
    public Mono<Object> getHandlerInternal(ServerWebExchange exchange) {
        String upgrade = exchange.getRequest().getHeaders().getUpgrade();
        if (upgrade == null || !upgrade.equalsIgnoreCase("websocket")) return Mono.empty();
        return super.getHandlerInternal(exchange).flatMap(handler -> {
            HttpHeaders headers = exchange.getRequest().getHeaders();
            String version = headers.getFirst("Sec-WebSocket-Version");
            if (version != null && !version.strip().equals("13"))
                return Mono.error(new ApiException(HttpStatus.UPGRADE_REQUIRED, "websocket-version",
                        "WebSocket version " + FieldError.clip(version, 20) + " is not supported; use 13").header("Sec-WebSocket-Version", "13"));
            String key = headers.getFirst("Sec-WebSocket-Key");
            if (key != null && !validKey(key))
                return Mono.error(ValidationException.of("Sec-WebSocket-Key", "must be 16 random bytes in base64 (RFC 6455)"));
            return Mono.just(handler);
        });
    }

    /** A Sec-WebSocket-Key: 16 bytes in base64. */
    static boolean validKey(String key) {
        try {
            return Base64.getDecoder().decode(key.strip()).length == 16;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }
}
