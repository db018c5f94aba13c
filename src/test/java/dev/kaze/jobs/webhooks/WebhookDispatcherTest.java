package dev.kaze.jobs.webhooks;

import com.sun.net.httpserver.HttpServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/** Sends through a real HTTP server on 127.0.0.1 and checks what arrives and what the listener hears. */
class WebhookDispatcherTest {
    static final Duration WAIT = Duration.ofSeconds(5);
    /** Fast retries: 20, 40, 60 ms, so 4 attempts. */
    static final WebhookDispatcher.Settings FAST = new WebhookDispatcher.Settings(
            List.of(Duration.ofMillis(20), Duration.ofMillis(40), Duration.ofMillis(60)), 0.1,
            Duration.ofSeconds(1), Duration.ofSeconds(2), Duration.ofSeconds(5), 1000);

    final String secret = WebhookSignature.newSecret();
    final Receiver receiver = new Receiver();
    final Outcomes outcomes = new Outcomes();
    final InMemoryWebhookOutbox outbox = new InMemoryWebhookOutbox();
    final List<WebhookDispatcher> dispatchers = new ArrayList<>();

    WebhookTarget target;

    @BeforeEach
    void setUp() {
        target = new WebhookTarget(receiver.url("/hooks/kaze"), null, secret);
    }

    @AfterEach
    void tearDown() {
        dispatchers.forEach(WebhookDispatcher::close);
        receiver.close();
    }

    WebhookDispatcher dispatcher(WebhookDispatcher.Settings settings) {
        WebhookDispatcher d = new WebhookDispatcher(settings, outbox, outcomes);
        dispatchers.add(d);
        d.start();
        return d;
    }

    static WebhookMessage message(String jobId, long seq, String type) {
        return WebhookMessage.of(jobId, seq, type,
                "{\"type\":\"job." + type + "\",\"data\":{\"id\":\"" + jobId + "\",\"seq\":" + seq + "}}");
    }

    @Test
    void signsEachRequestSoThePublishedAlgorithmVerifiesIt() throws Exception {
        WebhookDispatcher d = dispatcher(FAST);
        WebhookMessage m = WebhookMessage.of("job_1", 3, "completed",
                "{\"type\":\"job.completed\",\"data\":{\"prompt\":\"猫バス, Totoro ✓\"}}");
        assertThat(d.enqueue(target, m)).isTrue();

        Received r = receiver.next();
        assertThat(r.path()).isEqualTo("/hooks/kaze");
        assertThat(r.header("content-type")).isEqualTo("application/json");
        assertThat(r.header("webhook-id")).isEqualTo(m.id());
        assertThat(new String(r.body(), StandardCharsets.UTF_8)).isEqualTo(m.json());
        long timestamp = Long.parseLong(r.header("webhook-timestamp"));
        assertThat(timestamp).isCloseTo(Instant.now().getEpochSecond(), org.assertj.core.data.Offset.offset(5L));

        // the algorithm as published, computed here with javax.crypto
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(Base64.getDecoder().decode(secret.substring("whsec_".length())), "HmacSHA256"));
        mac.update((m.id() + "." + timestamp + ".").getBytes(StandardCharsets.UTF_8));
        String expected = "v1," + Base64.getEncoder().encodeToString(mac.doFinal(r.body()));
        assertThat(r.header("webhook-signature")).isEqualTo(expected);
        // and the documented verifier accepts the request as received (header names in the server's case)
        WebhookSignature.verify(secret, r.headers(), r.body(), WebhookSignature.DEFAULT_TOLERANCE);

        assertThat(outcomes.next()).isEqualTo(new Outcome("delivered", m.id(), 1, 204));
        assertThat(outbox.loadPending()).isEmpty();
        assertThat(d.pending()).isZero();
    }

    @Test
    void retriesA500WithTheSameIdThenDelivers() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        receiver.respond(r -> calls.incrementAndGet() == 1 ? Reply.of(500) : Reply.of(200));
        WebhookDispatcher d = dispatcher(FAST);
        WebhookMessage m = message("job_1", 1, "started");
        d.enqueue(target, m);

        Received first = receiver.next(), second = receiver.next();
        assertThat(List.of(first.header("webhook-id"), second.header("webhook-id"))).containsOnly(m.id());
        assertThat(Duration.ofNanos(second.atNanos() - first.atNanos())).isGreaterThanOrEqualTo(Duration.ofMillis(18));
        WebhookSignature.verify(secret, second.headers(), second.body(), WebhookSignature.DEFAULT_TOLERANCE);

        assertThat(outcomes.next()).isEqualTo(new Outcome("retrying", m.id(), 1, 0, "HTTP 500"));
        assertThat(outcomes.next()).isEqualTo(new Outcome("delivered", m.id(), 2, 200));
        assertThat(outbox.loadPending()).isEmpty();
    }

    @Test
    void honoursRetryAfter() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        receiver.respond(r -> calls.incrementAndGet() == 1 ? Reply.of(429, "Retry-After", "1") : Reply.of(202));
        WebhookDispatcher d = dispatcher(FAST);
        WebhookMessage m = message("job_1", 1, "queued");
        d.enqueue(target, m);

        Received first = receiver.next(), second = receiver.next();
        // the schedule alone would retry after about 20 ms
        assertThat(Duration.ofNanos(second.atNanos() - first.atNanos())).isGreaterThanOrEqualTo(Duration.ofMillis(990));
        Outcome retrying = outcomes.next();
        assertThat(retrying.kind()).isEqualTo("retrying");
        assertThat(retrying.delay()).isEqualTo(Duration.ofSeconds(1));
        assertThat(outcomes.next()).isEqualTo(new Outcome("delivered", m.id(), 2, 202));
    }

    @Test
    void readsRetryAfterAsSecondsOrAnHttpDate() {
        Instant now = Instant.parse("2026-03-01T12:00:00Z");
        String inTwoMinutes = DateTimeFormatter.RFC_1123_DATE_TIME.format(now.plusSeconds(120).atOffset(ZoneOffset.UTC));
        assertThat(WebhookDispatcher.retryAfter(Optional.of("120"), now)).isEqualTo(Duration.ofMinutes(2));
        assertThat(WebhookDispatcher.retryAfter(Optional.of(inTwoMinutes), now)).isEqualTo(Duration.ofMinutes(2));
        assertThat(WebhookDispatcher.retryAfter(Optional.of("Sun, 01 Mar 2026 11:00:00 GMT"), now)).isEqualTo(Duration.ZERO);
        assertThat(WebhookDispatcher.retryAfter(Optional.of("soon"), now)).isNull();
        assertThat(WebhookDispatcher.retryAfter(Optional.of("-5"), now)).isNull();
        assertThat(WebhookDispatcher.retryAfter(Optional.empty(), now)).isNull();
    }

    @Test
    void givesUpAfterTheConfiguredAttempts() throws Exception {
        receiver.respond(r -> Reply.of(503));
        WebhookDispatcher d = dispatcher(FAST);
        WebhookMessage m = message("job_1", 1, "failed");
        d.enqueue(target, m);

        for (int attempt = 1; attempt <= 3; attempt++) {
            assertThat(outcomes.next()).isEqualTo(new Outcome("retrying", m.id(), attempt, 0, "HTTP 503"));
        }
        Outcome failed = outcomes.next();
        assertThat(failed.kind()).isEqualTo("failed");
        assertThat(failed.attempt()).isEqualTo(4);
        assertThat(failed.reason()).contains("gave up after 4 attempts").contains("HTTP 503");
        assertThat(receiver.all()).hasSize(4).allMatch(r -> r.header("webhook-id").equals(m.id()));
        receiver.expectNoMore(Duration.ofMillis(150));
        assertThat(outbox.loadPending()).isEmpty();
        assertThat(d.pending()).isZero();
    }

    @ParameterizedTest
    @ValueSource(ints = {400, 404, 410, 302})
    void doesNotRetryOtherClientErrorsOrRedirects(int status) throws Exception {
        receiver.respond(r -> status == 302 ? Reply.of(302, "Location", "https://example.com/") : Reply.of(status));
        WebhookDispatcher d = dispatcher(FAST);
        WebhookMessage m = message("job_1", 1, "completed");
        d.enqueue(target, m);

        Outcome failed = outcomes.next();
        assertThat(failed.kind()).isEqualTo("failed");
        assertThat(failed.attempt()).isEqualTo(1);
        assertThat(failed.reason()).startsWith("HTTP " + status);
        receiver.next();
        receiver.expectNoMore(Duration.ofMillis(150));
        assertThat(outbox.loadPending()).isEmpty();
    }

    @Test
    void deliversOneJobsEventsInSeqOrderWhileOtherJobsGoAhead() throws Exception {
        AtomicInteger firstCalls = new AtomicInteger();
        receiver.respond(r -> {
            if (r.bodyText().contains("\"id\":\"job_a\",\"seq\":1}") && firstCalls.incrementAndGet() == 1) {
                sleep(300);
                return Reply.of(500); // slow, then failed: seq 2 must wait for the retry too
            }
            return Reply.of(200);
        });
        WebhookDispatcher d = dispatcher(FAST);
        WebhookMessage a1 = message("job_a", 1, "queued"), a2 = message("job_a", 2, "started"),
                a3 = message("job_a", 3, "completed"), b1 = message("job_b", 1, "queued");
        d.enqueue(target, a1);
        receiver.awaitCount(1);
        d.enqueue(target, a3); // out of order on purpose: seq decides
        d.enqueue(target, a2);
        d.enqueue(target, b1);

        List<Received> got = new ArrayList<>();
        for (int i = 0; i < 5; i++) got.add(receiver.next());
        List<String> jobA = got.stream().map(r -> r.header("webhook-id")).filter(id -> !id.equals(b1.id())).toList();
        assertThat(jobA).containsExactly(a1.id(), a1.id(), a2.id(), a3.id());

        Received a1First = got.getFirst();
        Received b1Got = got.stream().filter(r -> r.header("webhook-id").equals(b1.id())).findFirst().orElseThrow();
        Received a2Got = got.stream().filter(r -> r.header("webhook-id").equals(a2.id())).findFirst().orElseThrow();
        assertThat(Duration.ofNanos(b1Got.atNanos() - a1First.atNanos())).as("job_b waits for nobody")
                .isLessThan(Duration.ofMillis(250));
        assertThat(Duration.ofNanos(a2Got.atNanos() - a1First.atNanos())).as("job_a seq 2 waits for seq 1")
                .isGreaterThanOrEqualTo(Duration.ofMillis(300));
        for (int i = 0; i < 5; i++) outcomes.next();
        assertThat(outbox.loadPending()).isEmpty();
    }

    @Test
    void enqueueReturnsAtOnceWhileTheReceiverHangs() throws Exception {
        CountDownLatch hang = new CountDownLatch(1);
        AtomicInteger calls = new AtomicInteger();
        receiver.respond(r -> {
            if (calls.incrementAndGet() == 1) await(hang); // never answers the first request
            return Reply.of(204);
        });
        try {
            WebhookDispatcher d = dispatcher(FAST.withTimeouts(Duration.ofSeconds(1), Duration.ofMillis(500)));
            List<WebhookMessage> sent = new ArrayList<>();
            for (int seq = 1; seq <= 3; seq++) sent.add(message("job_1", seq, seq == 3 ? "completed" : "started"));
            long t0 = System.nanoTime();
            d.enqueue(target, sent.get(0));
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofMillis(200));
            receiver.awaitCount(1); // the first request hangs now
            long t1 = System.nanoTime();
            d.enqueue(target, sent.get(1));
            d.enqueue(target, sent.get(2));
            assertThat(Duration.ofNanos(System.nanoTime() - t1)).isLessThan(Duration.ofMillis(200));

            Outcome timedOut = outcomes.next();
            assertThat(timedOut.kind()).isEqualTo("retrying");
            assertThat(timedOut.reason()).startsWith("no answer within");
            assertThat(Duration.ofNanos(System.nanoTime() - t1)).isGreaterThanOrEqualTo(Duration.ofMillis(450));
            assertThat(outcomes.next()).isEqualTo(new Outcome("delivered", sent.get(0).id(), 2, 204));
            assertThat(outcomes.next()).isEqualTo(new Outcome("delivered", sent.get(1).id(), 1, 204));
            assertThat(outcomes.next()).isEqualTo(new Outcome("delivered", sent.get(2).id(), 1, 204));
        } finally {
            hang.countDown();
        }
    }

    @Test
    void dropsMessagesBeyondMaxPendingAndSaysSo() throws Exception {
        CountDownLatch hang = new CountDownLatch(1);
        receiver.respond(r -> {
            await(hang);
            return Reply.of(204);
        });
        try {
            WebhookDispatcher.Settings one = new WebhookDispatcher.Settings(FAST.retryDelays(), 0, Duration.ofSeconds(1),
                    Duration.ofSeconds(5), Duration.ofSeconds(5), 1);
            WebhookDispatcher d = dispatcher(one);
            WebhookMessage kept = message("job_1", 1, "queued"), dropped = message("job_2", 1, "queued");
            assertThat(d.enqueue(target, kept)).isTrue();
            assertThat(d.enqueue(target, dropped)).isFalse();
            Outcome failed = outcomes.next();
            assertThat(failed).isEqualTo(new Outcome("failed", dropped.id(), 0, 0, "webhook queue is full (1 pending)"));
            assertThat(outbox.loadPending()).extracting(x -> x.message().id()).containsExactly(kept.id());
            hang.countDown();
            assertThat(outcomes.next()).isEqualTo(new Outcome("delivered", kept.id(), 1, 204));
        } finally {
            hang.countDown();
        }
    }

    @Test
    void sendsOnlyTheEventTypesTheTargetAsksFor() throws Exception {
        WebhookDispatcher d = dispatcher(FAST);
        WebhookTarget onlyDone = new WebhookTarget(receiver.url("/done"), Set.of("completed", "failed"), secret);
        assertThat(d.enqueue(onlyDone, message("job_1", 1, "queued"))).isFalse();
        assertThat(d.enqueue(onlyDone, message("job_1", 2, "progress"))).isFalse();
        WebhookMessage done = message("job_1", 3, "completed");
        assertThat(d.enqueue(onlyDone, done)).isTrue();
        // a target naming no events gets all but progress
        assertThat(d.enqueue(target, message("job_2", 1, "progress"))).isFalse();
        WebhookMessage started = message("job_2", 2, "started");
        assertThat(d.enqueue(target, started)).isTrue();

        List<String> ids = List.of(receiver.next().header("webhook-id"), receiver.next().header("webhook-id"));
        assertThat(ids).containsExactlyInAnyOrder(done.id(), started.id());
        receiver.expectNoMore(Duration.ofMillis(150));
        assertThat(outbox.loadPending()).isEmpty();
    }

    @Test
    void resendsWhatTheOutboxHeldAfterARestartWithTheSameId() throws Exception {
        receiver.respond(r -> Reply.of(503));
        WebhookDispatcher.Settings slow = FAST.withRetryDelays(Duration.ofSeconds(30));
        WebhookDispatcher before = dispatcher(slow);
        WebhookMessage m = message("job_1", 1, "completed");
        before.enqueue(target, m);
        assertThat(outcomes.next().kind()).isEqualTo("retrying"); // now waiting 30 s for its retry
        before.close();
        Received firstTry = receiver.next();
        assertThat(outbox.loadPending()).extracting(x -> x.message().id()).containsExactly(m.id());

        receiver.respond(r -> Reply.of(200));
        dispatcher(slow); // a new process: start() loads the outbox
        Received resent = receiver.next();
        assertThat(resent.header("webhook-id")).isEqualTo(firstTry.header("webhook-id")).isEqualTo(m.id());
        assertThat(resent.body()).isEqualTo(firstTry.body());
        WebhookSignature.verify(secret, resent.headers(), resent.body(), WebhookSignature.DEFAULT_TOLERANCE);
        assertThat(outcomes.next()).isEqualTo(new Outcome("delivered", m.id(), 1, 200));
        assertThat(outbox.loadPending()).isEmpty();
    }

    @Test
    void deliversSeveralJobsLeftInTheOutboxInSeqOrder() throws Exception {
        WebhookMessage a2 = message("job_a", 2, "completed"), a1 = message("job_a", 1, "started"),
                b1 = message("job_b", 1, "failed");
        for (WebhookMessage m : List.of(a2, b1, a1)) outbox.save(new WebhookDelivery(target, m));
        dispatcher(FAST);
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 3; i++) ids.add(receiver.next().header("webhook-id"));
        assertThat(ids.stream().filter(id -> !id.equals(b1.id())).toList()).containsExactly(a1.id(), a2.id());
        for (int i = 0; i < 3; i++) assertThat(outcomes.next().kind()).isEqualTo("delivered");
        assertThat(outbox.loadPending()).isEmpty();
    }

    // ---- a real HTTP receiver on 127.0.0.1 ----

    record Received(String path, Map<String, List<String>> headers, byte[] body, long atNanos) {
        String header(String name) {
            return headers.entrySet().stream().filter(e -> e.getKey().equalsIgnoreCase(name))
                    .map(e -> e.getValue().getFirst()).findFirst().orElse(null);
        }

        String bodyText() {
            return new String(body, StandardCharsets.UTF_8);
        }
    }

    record Reply(int status, Map<String, String> headers) {
        static Reply of(int status, String... headers) {
            Map<String, String> h = new LinkedHashMap<>();
            for (int i = 0; i < headers.length; i += 2) h.put(headers[i], headers[i + 1]);
            return new Reply(status, h);
        }
    }

    static final class Receiver implements AutoCloseable {
        final HttpServer server;
        final ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor();
        final BlockingQueue<Received> arrived = new LinkedBlockingQueue<>();
        final List<Received> all = new ArrayList<>();
        volatile Function<Received, Reply> responder = r -> Reply.of(204);

        Receiver() {
            try {
                server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
            server.setExecutor(threads);
            server.createContext("/", exchange -> {
                long at = System.nanoTime();
                byte[] body;
                try (InputStream in = exchange.getRequestBody()) {
                    body = in.readAllBytes();
                }
                Received r = new Received(exchange.getRequestURI().getPath(), Map.copyOf(exchange.getRequestHeaders()), body, at);
                synchronized (all) {
                    all.add(r);
                }
                arrived.add(r);
                Reply reply = responder.apply(r);
                reply.headers().forEach((k, v) -> exchange.getResponseHeaders().add(k, v));
                exchange.sendResponseHeaders(reply.status(), -1);
                exchange.close();
            });
            server.start();
        }

        URI url(String path) {
            return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + path);
        }

        void respond(Function<Received, Reply> responder) {
            this.responder = responder;
        }

        Received next() throws InterruptedException {
            Received r = arrived.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
            if (r == null) fail("no webhook request arrived within " + WAIT);
            return r;
        }

        void awaitCount(int n) throws InterruptedException {
            long end = System.nanoTime() + WAIT.toNanos();
            while (all().size() < n) {
                if (System.nanoTime() > end) fail("fewer than " + n + " requests arrived within " + WAIT);
                Thread.sleep(2);
            }
        }

        List<Received> all() {
            synchronized (all) {
                return List.copyOf(all);
            }
        }

        void expectNoMore(Duration within) throws InterruptedException {
            int seen = all().size();
            Thread.sleep(within);
            assertThat(all()).as("requests after the last expected one").hasSize(seen);
        }

        @Override
        public void close() {
            server.stop(0);
            threads.shutdownNow();
        }
    }

    // ---- what the listener hears ----

    record Outcome(String kind, String id, int attempt, int status, String reason, Duration delay) {
        Outcome(String kind, String id, int attempt, int status) {
            this(kind, id, attempt, status, null, null);
        }

        Outcome(String kind, String id, int attempt, int status, String reason) {
            this(kind, id, attempt, status, reason, null);
        }

        /** Compares all but the delay, which carries jitter. */
        @Override
        public boolean equals(Object o) {
            return o instanceof Outcome(String k, String i, int a, int s, String r, Duration ignored)
                    && k.equals(kind) && i.equals(id) && a == attempt && s == status && java.util.Objects.equals(r, reason);
        }

        @Override
        public int hashCode() {
            return java.util.Objects.hash(kind, id, attempt, status, reason);
        }
    }

    static final class Outcomes implements WebhookListener {
        final BlockingQueue<Outcome> heard = new LinkedBlockingQueue<>();

        @Override
        public void delivered(WebhookMessage message, int attempt, int status) {
            heard.add(new Outcome("delivered", message.id(), attempt, status));
        }

        @Override
        public void retrying(WebhookMessage message, int attempt, String reason, Duration delay) {
            heard.add(new Outcome("retrying", message.id(), attempt, 0, reason, delay));
        }

        @Override
        public void failed(WebhookMessage message, int attempts, String reason) {
            heard.add(new Outcome("failed", message.id(), attempts, 0, reason));
        }

        Outcome next() throws InterruptedException {
            Outcome o = heard.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
            if (o == null) fail("the listener heard nothing within " + WAIT);
            return o;
        }
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    static void await(CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
