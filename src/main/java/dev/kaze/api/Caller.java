package dev.kaze.api;

import org.springframework.http.HttpStatus;
import org.springframework.web.server.ServerWebExchange;

/** Who is calling: the id of their API key, or "anonymous" where anonymous access is enabled. */
public record Caller(String owner) {
    static final String ATTRIBUTE = Caller.class.getName();

    public static Caller of(ServerWebExchange exchange) {
        Caller c = exchange.getAttribute(ATTRIBUTE);
        if (c == null) throw new ApiException(HttpStatus.UNAUTHORIZED, "unauthorized", "an API key is required");
        return c;
    }
}
