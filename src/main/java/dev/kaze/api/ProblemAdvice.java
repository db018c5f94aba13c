package dev.kaze.api;

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
        ProblemDetail p = problems.problem(e, exchange.getRequest().getPath().value());
        HttpHeaders headers = problems.headers(e);
        headers.setContentType(MediaType.APPLICATION_PROBLEM_JSON);
        return ResponseEntity.status(p.getStatus()).headers(headers).body(ProblemWriter.toJson(p));
    }
}
