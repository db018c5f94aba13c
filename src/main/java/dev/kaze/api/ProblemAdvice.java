package dev.kaze.api;

import dev.kaze.jobs.QueueFullException;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.http.ProblemDetail;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.RestControllerAdvice;
import org.springframework.web.server.ServerWebExchange;

/** Every controller error as an RFC 9457 problem detail. */
@RestControllerAdvice
public class ProblemAdvice {
    private final ProblemWriter problems;

    public ProblemAdvice(ProblemWriter problems) { this.problems = problems; }

    @ExceptionHandler(Throwable.class)
    public ResponseEntity<String> handle(Throwable e, ServerWebExchange exchange) {
        Throwable cause = e instanceof org.springframework.core.codec.DecodingException && e.getCause() != null ? e.getCause() : e;
        ProblemDetail p = problems.problem(cause, exchange.getRequest().getPath().value());
        HttpHeaders headers = new HttpHeaders();
        headers.setContentType(MediaType.APPLICATION_PROBLEM_JSON);
        if (cause instanceof QueueFullException q) headers.set(HttpHeaders.RETRY_AFTER, Long.toString(q.retryAfterSeconds()));
        return ResponseEntity.status(p.getStatus()).headers(headers).body(ProblemWriter.toJson(p));
    }
}
