package dev.kaze.api;

import dev.kaze.json.Json;
import org.junit.jupiter.api.Test;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.mock.http.server.reactive.MockServerHttpRequest;
import org.springframework.mock.web.server.MockServerWebExchange;
import tools.jackson.databind.JsonNode;

import java.net.URI;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Who gets in: in the open local mode (anonymous, no keys) any key is let in, as OpenAI's SDKs always
 * send one; with keys configured an unknown key stays a 401 even where anonymous access is on; the
 * first-run hint points at the key file; only admin keys (or anyone, where no key exists) may administer.
 */
class ApiKeyFilterTest {
    static final ApiKeys.Key ALICE = ApiKeys.Key.of("alice", null, "sk-alice", "kaze.auth.keys");
    static final ApiKeys.Key ROOT = ApiKeys.Key.of("root", null, "sk-root", "kaze.auth.keys").admin(true);

    record Outcome(HttpStatus status, Caller caller, boolean admin, JsonNode problem) {}

    static Outcome call(ApiKeys keys, String authorization) {
        MockServerHttpRequest.BaseBuilder<?> request = MockServerHttpRequest.get("/v1/models");
        if (authorization != null) request.header(HttpHeaders.AUTHORIZATION, authorization);
        MockServerWebExchange exchange = MockServerWebExchange.from(request);
        AtomicReference<Boolean> admin = new AtomicReference<>();
        new ApiKeyFilter(keys, new ProblemWriter()).filter(exchange, ex -> {
            try {
                ApiKeyFilter.requireAdmin(ex, "pulling a model");
                admin.set(true);
            } catch (ApiException e) {
                assertThat(e.status()).isEqualTo(HttpStatus.FORBIDDEN);
                admin.set(false);
            }
            return exchange.getResponse().setComplete();
        }).block();
        HttpStatus status = exchange.getResponse().getStatusCode() == null ? HttpStatus.OK
                : HttpStatus.valueOf(exchange.getResponse().getStatusCode().value());
        String body = exchange.getResponse().getBodyAsString().block();
        return new Outcome(status, exchange.getAttribute(Caller.ATTRIBUTE), Boolean.TRUE.equals(admin.get()),
                body == null || body.isEmpty() ? null : Json.MAPPER.readTree(body));
    }

    @Test
    void openLocalModeLetsAnyKeyInAsAnonymousAdmin() {
        ApiKeys open = new ApiKeys(true, List.of());
        for (String auth : new String[]{null, "Bearer sk-anything", "Bearer ollama"}) {
            Outcome o = call(open, auth);
            assertThat(o.status()).as(auth).isEqualTo(HttpStatus.OK);
            assertThat(o.caller()).isEqualTo(new Caller("anonymous"));
            assertThat(o.admin()).as("no key is configured: anyone may pull").isTrue();
        }
        assertThat(new ApiKeyFilter(open, new ProblemWriter()).authenticate(bearer("sk-anything"), URI.create("ws://x/v1/videos/v/events")))
                .isEqualTo(new Caller("anonymous"));
    }

    @Test
    void withKeysAnUnknownKeyStaysUnauthorizedEvenWithAnonymousAccess() {
        ApiKeys keys = new ApiKeys(true, List.of(ALICE, ROOT));
        Outcome unknown = call(keys, "Bearer sk-anything");
        assertThat(unknown.status()).isEqualTo(HttpStatus.UNAUTHORIZED);
        assertThat(unknown.problem().get("detail").asString()).isEqualTo("unknown API key");
        assertThat(new ApiKeyFilter(keys, new ProblemWriter()).authenticate(bearer("sk-anything"), URI.create("ws://x/v1/videos/v/events"))).isNull();

        Outcome none = call(keys, null);
        assertThat(none.status()).isEqualTo(HttpStatus.OK);
        assertThat(none.caller()).isEqualTo(new Caller("anonymous"));
        assertThat(none.admin()).as("anonymous is no admin where keys exist").isFalse();

        Outcome alice = call(keys, "Bearer sk-alice");
        assertThat(alice.caller()).isEqualTo(new Caller("alice"));
        assertThat(alice.admin()).isFalse();
        Outcome root = call(keys, "Bearer sk-root");
        assertThat(root.caller()).isEqualTo(new Caller("root"));
        assertThat(root.admin()).isTrue();
    }

    @Test
    void firstRunKeyHintPointsAtTheFileWithoutTheKey() {
        ApiKeys keys = new ApiKeys(false, List.of(ApiKeys.Key.of("admin", null, "kz-secret", "x").admin(true)),
                "the admin key is in /srv/kaze/admin-key on the server: send it as 'Authorization: Bearer <key>'");
        Outcome none = call(keys, null);
        assertThat(none.status()).isEqualTo(HttpStatus.UNAUTHORIZED);
        assertThat(none.problem().get("detail").asString())
                .isEqualTo("no key was sent; the admin key is in /srv/kaze/admin-key on the server: send it as 'Authorization: Bearer <key>'");
        Outcome wrong = call(keys, "Bearer sk-other");
        assertThat(wrong.status()).isEqualTo(HttpStatus.UNAUTHORIZED);
        assertThat(wrong.problem().get("detail").asString()).startsWith("unknown API key; the admin key is in /srv/kaze/admin-key");
        assertThat(wrong.problem().toString()).doesNotContain("kz-secret");
        assertThat(call(keys, "Bearer kz-secret").admin()).isTrue();
    }

    @Test
    void aConfiguredKeyIsNoAdminUnlessMarked() {
        assertThat(ApiKeys.Key.of("a", null, "k", "p").admin()).isFalse();
        assertThatThrownBy(() -> ApiKeys.Key.of("a", null, null, "kaze.auth.keys")).hasMessageContaining("needs sha256 or key");
    }

    static HttpHeaders bearer(String key) {
        HttpHeaders h = new HttpHeaders();
        h.set(HttpHeaders.AUTHORIZATION, "Bearer " + key);
        return h;
    }
}
