package dev.kaze.api;

import org.springframework.core.Ordered;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpMethod;
import org.springframework.http.HttpStatus;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.WebFilter;
import org.springframework.web.server.WebFilterChain;
import org.springframework.web.util.UriComponentsBuilder;
import reactor.core.publisher.Mono;

import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Bearer API keys for everything under /v1. Keys are stored as SHA-256 hashes and compared in
 * constant time against every configured key; a browser's WebSocket or EventSource, which cannot
 * set headers, may pass the key as {@code ?access_token=}. With anonymous access and no keys, any
 * key is let in (as anonymous), as OpenAI's SDKs always send one.
 */
public final class ApiKeyFilter implements WebFilter, Ordered {
    private static final String ADMIN = ApiKeyFilter.class.getName() + ".admin";
    private final ApiKeys keys;
    private final ProblemWriter problems;

    public ApiKeyFilter(ApiKeys keys, ProblemWriter problems) {
        this.keys = keys;
        this.problems = problems;
    }

    @Override public int getOrder() { return -100; }

    @Override
    public Mono<Void> filter(ServerWebExchange exchange, WebFilterChain chain) {
        String path = exchange.getRequest().getPath().value();
        if (!path.startsWith("/v1/") && !path.equals("/v1")) return chain.filter(exchange);
        if (exchange.getRequest().getMethod() == HttpMethod.OPTIONS) return chain.filter(exchange);
        String token = null;
        List<String> auth = exchange.getRequest().getHeaders().getOrEmpty(HttpHeaders.AUTHORIZATION);
        if (auth.size() > 1) return problems.write(exchange, new ApiException(HttpStatus.BAD_REQUEST, "bad-request", "more than one Authorization header"));
        if (auth.size() == 1) {
            String h = auth.getFirst();
            if (!h.regionMatches(true, 0, "Bearer ", 0, 7) || h.length() > 1024)
                return problems.write(exchange, new ApiException(HttpStatus.UNAUTHORIZED, "unauthorized", "the Authorization header must be 'Bearer <API key>'"));
            token = h.substring(7).strip();
        } else {
            String q = exchange.getRequest().getQueryParams().getFirst("access_token");
            if (q != null && q.length() <= 1024) token = q;
        }
        ApiKeys.Key key = null;
        if (token == null || token.isEmpty()) {
            if (!keys.anonymous())
                return problems.write(exchange, new ApiException(HttpStatus.UNAUTHORIZED, "unauthorized", keys.missingKeyDetail()));
        } else {
            key = keys.find(token);
            if (key == null && !keys.open())
                return problems.write(exchange, new ApiException(HttpStatus.UNAUTHORIZED, "unauthorized", "unknown API key"
                        + (keys.keyHint() != null ? "; " + keys.keyHint() : "")));
        }
        exchange.getAttributes().put(Caller.ATTRIBUTE, new Caller(key == null ? "anonymous" : key.id()));
        if (keys.admin(key)) exchange.getAttributes().put(ADMIN, Boolean.TRUE);
        return chain.filter(exchange);
    }

    /**
     * Fails with 403 unless the caller may administer the server: any caller where no key is
     * configured, else a key marked admin (the first-run admin key is one).
     */
    public static void requireAdmin(ServerWebExchange exchange, String what) {
        if (!Boolean.TRUE.equals(exchange.getAttribute(ADMIN)))
            throw new ApiException(HttpStatus.FORBIDDEN, "forbidden", what + " needs an admin key (kaze.auth.keys[n].admin=true, "
                    + "or the admin key created in the data directory at the first start)");
    }

    /**
     * The caller of a request that already passed this filter (a WebSocket handshake: the session
     * does not carry the exchange's attributes), or null.
     */
    public Caller authenticate(HttpHeaders headers, URI uri) {
        String token = null;
        String h = headers.getFirst(HttpHeaders.AUTHORIZATION);
        if (h != null && h.regionMatches(true, 0, "Bearer ", 0, 7)) token = h.substring(7).strip();
        else {
            String q = UriComponentsBuilder.fromUri(uri).build().getQueryParams().getFirst("access_token");
            if (q != null) token = URLDecoder.decode(q, StandardCharsets.UTF_8);
        }
        if (token == null || token.isEmpty()) return keys.anonymous() ? new Caller("anonymous") : null;
        String owner = keys.owner(token);
        if (owner == null && keys.open()) return new Caller("anonymous");
        return owner == null ? null : new Caller(owner);
    }
}
