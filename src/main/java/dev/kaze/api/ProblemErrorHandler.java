package dev.kaze.api;

import org.springframework.boot.webflux.error.ErrorWebExceptionHandler;
import org.springframework.core.Ordered;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Mono;

/**
 * The last word on errors that escape the controllers (from filters, codecs, handler mappings):
 * an RFC 9457 problem detail instead of Spring Boot's default error body. Runs before Boot's own
 * handler (order -1).
 */
public final class ProblemErrorHandler implements ErrorWebExceptionHandler, Ordered {
    private final ProblemWriter problems;

    public ProblemErrorHandler(ProblemWriter problems) { this.problems = problems; }

    @Override public int getOrder() { return -2; }

    @Override
    public Mono<Void> handle(ServerWebExchange exchange, Throwable ex) {
        if (exchange.getResponse().isCommitted()) return Mono.error(ex);
        exchange.getResponse().getHeaders().clearContentHeaders();
        return problems.write(exchange, ex);
    }
}
