package dev.kaze.api;

import org.springframework.core.Ordered;
import org.springframework.http.HttpStatus;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.WebFilter;
import org.springframework.web.server.WebFilterChain;
import reactor.core.publisher.Mono;

/**
 * A worker-role process serves health and metrics only: every other request (the API under /v1, its
 * event streams, the studio page) answers 404 as a problem that points at the API replicas. Runs before
 * every other filter, so an API key is neither asked for nor checked here.
 */
public final class WorkerRoleFilter implements WebFilter, Ordered {
    private final ProblemWriter problems;

    public WorkerRoleFilter(ProblemWriter problems) { this.problems = problems; }

    @Override public int getOrder() { return -300; }

    @Override
    public Mono<Void> filter(ServerWebExchange exchange, WebFilterChain chain) {
        String path = exchange.getRequest().getPath().value();
        if (path.equals("/actuator") || path.startsWith("/actuator/")) return chain.filter(exchange);
        return problems.write(exchange, new ApiException(HttpStatus.NOT_FOUND, "not-found",
                "this process runs with kaze.role=worker and serves only /actuator (health, metrics); "
                        + "send API requests to a process with kaze.role=api or all"));
    }
}
