package dev.kaze.api;

import dev.kaze.config.KazeProperties;
import org.springframework.core.Ordered;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.WebFilter;
import org.springframework.web.server.WebFilterChain;
import reactor.core.publisher.Mono;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * Bearer API keys for everything under /v1. Keys are stored as SHA-256 hashes and compared in
 * constant time against every configured key; a browser's WebSocket or EventSource, which cannot
 * set headers, may pass the key as {@code ?access_token=}.
 */
public final class ApiKeyFilter implements WebFilter, Ordered {
    private record Key(String id, byte[] sha256) {}

    private final List<Key> keys = new ArrayList<>();
    private final boolean anonymous;
    private final ProblemWriter problems;

    public ApiKeyFilter(KazeProperties.Auth auth, ProblemWriter problems) {
        this.anonymous = auth.anonymous();
        this.problems = problems;
        for (KazeProperties.ApiKey k : auth.keys()) {
            if (k.id() == null || k.id().isBlank()) throw new IllegalArgumentException("kaze.auth.keys: every key needs an id");
            byte[] hash;
            if (k.sha256() != null && !k.sha256().isBlank()) hash = HexFormat.of().parseHex(k.sha256().strip().toLowerCase());
            else if (k.key() != null && !k.key().isBlank()) hash = sha256(k.key());
            else throw new IllegalArgumentException("kaze.auth.keys: key '" + k.id() + "' needs sha256 or key");
            if (hash.length != 32) throw new IllegalArgumentException("kaze.auth.keys: sha256 of '" + k.id() + "' must be 64 hex digits");
            keys.add(new Key(k.id(), hash));
        }
    }

    static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override public int getOrder() { return -100; }

    @Override
    public Mono<Void> filter(ServerWebExchange exchange, WebFilterChain chain) {
        String path = exchange.getRequest().getPath().value();
        if (!path.startsWith("/v1/") && !path.equals("/v1")) return chain.filter(exchange);
        if (exchange.getRequest().getMethod() == org.springframework.http.HttpMethod.OPTIONS) return chain.filter(exchange);
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
        String owner;
        if (token == null || token.isEmpty()) {
            if (!anonymous)
                return problems.write(exchange, new ApiException(HttpStatus.UNAUTHORIZED, "unauthorized",
                        "an API key is required: send 'Authorization: Bearer <key>'"));
            owner = "anonymous";
        } else {
            owner = lookup(token);
            if (owner == null) return problems.write(exchange, new ApiException(HttpStatus.UNAUTHORIZED, "unauthorized", "unknown API key"));
        }
        exchange.getAttributes().put(Caller.ATTRIBUTE, new Caller(owner));
        return chain.filter(exchange);
    }

    /**
     * The caller of a request that already passed this filter (a WebSocket handshake: the session
     * does not carry the exchange's attributes), or null.
     */
    public Caller authenticate(org.springframework.http.HttpHeaders headers, java.net.URI uri) {
        String token = null;
        String h = headers.getFirst(HttpHeaders.AUTHORIZATION);
        if (h != null && h.regionMatches(true, 0, "Bearer ", 0, 7)) token = h.substring(7).strip();
        else {
            String q = org.springframework.web.util.UriComponentsBuilder.fromUri(uri).build().getQueryParams().getFirst("access_token");
            if (q != null) token = java.net.URLDecoder.decode(q, java.nio.charset.StandardCharsets.UTF_8);
        }
        if (token == null || token.isEmpty()) return anonymous ? new Caller("anonymous") : null;
        String owner = lookup(token);
        return owner == null ? null : new Caller(owner);
    }

    /** The id of the key, comparing against every configured key in constant time. */
    private String lookup(String token) {
        byte[] hash = sha256(token);
        String found = null;
        for (Key k : keys) if (MessageDigest.isEqual(hash, k.sha256())) found = k.id();
        return found;
    }
}
