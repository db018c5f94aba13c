package dev.kaze.api;

import com.zaxxer.hikari.HikariDataSource;
import dev.kaze.jobs.Job;
import dev.kaze.jobs.JobEvent;
import dev.kaze.jobs.JobEventType;
import dev.kaze.jobs.JobKind;
import dev.kaze.jobs.NewJob;
import dev.kaze.jobs.WebhookRelay;
import dev.kaze.jobs.store.H2JobStoreTest;
import dev.kaze.jobs.store.JdbcJobStore;
import dev.kaze.jobs.store.JdbcWebhookOutbox;
import dev.kaze.jobs.store.JobSchema;
import dev.kaze.jobs.webhooks.WebhookDelivery;
import dev.kaze.jobs.webhooks.WebhookDispatcher;
import dev.kaze.jobs.webhooks.WebhookListener;
import dev.kaze.jobs.webhooks.WebhookMessage;
import dev.kaze.jobs.webhooks.WebhookSignature;
import dev.kaze.jobs.webhooks.WebhookTarget;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Webhook deliveries pending when a process dies go out from the next process on the same store: a relay and
 * dispatcher on a file H2 job store send to a receiver that is down; the process is cut off (its database pool
 * closed first, so it can mark nothing done, then its threads stopped); a new process on the same file, with the
 * receiver up, delivers every webhook event of the jobs, each with the {@code webhook-id} derived from its event.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class WebhookRestartTest {
    static final String SECRET = WebhookSignature.newSecret();
    static final Duration LEASE = Duration.ofSeconds(1);

    record Process(HikariDataSource pool, JdbcJobStore store, JdbcWebhookOutbox outbox, WebhookRelay relay) {}

    static Process start(String url, String replica, WebhookDispatcher.Settings settings, WebhookListener listener) {
        HikariDataSource pool = H2JobStoreTest.pool(url, replica);
        JobSchema.migrate(pool, null);
        JdbcJobStore store = new JdbcJobStore(pool);
        JdbcWebhookOutbox outbox = new JdbcWebhookOutbox(pool, replica, LEASE, SECRET, Clock.systemUTC());
        WebhookRelay relay = new WebhookRelay(store, new WebhookDispatcher(settings, outbox, listener), SECRET);
        relay.start();
        return new Process(pool, store, outbox, relay);
    }

    static WebhookDispatcher.Settings settings(Duration retryDelay) {
        return new WebhookDispatcher.Settings(List.of(retryDelay, retryDelay, retryDelay, retryDelay), 0,
                Duration.ofSeconds(1), Duration.ofSeconds(5), Duration.ofSeconds(5), 1000);
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @Test
    void pendingDeliveriesGoOutAfterTheProcessDiesWithTheirIds(@TempDir Path dir) throws Exception {
        String url = "jdbc:h2:file:" + dir.resolve("jobs").toAbsolutePath();
        int port = freePort(); // nothing listens there yet: the receiver is down
        String hook = "{\"url\":\"http://127.0.0.1:" + port + "/hook\",\"events\":[\"queued\",\"started\",\"progress\",\"completed\"]}";

        AtomicInteger failedAttempts = new AtomicInteger();
        Process first = start(url, "first", settings(Duration.ofMinutes(5)), new WebhookListener() {
            @Override
            public void retrying(WebhookMessage message, int attempt, String reason, Duration delay) {
                failedAttempts.incrementAndGet();
            }
        });
        List<String> jobIds = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            Job job = first.store().create(new NewJob(JobKind.VIDEO, "alice", 0, "{\"prompt\":\"a cat " + i + "\"}",
                    null, null, hook, null, null));
            jobIds.add(job.id());
        }
        Job running = first.store().claimNext("worker-1").orElseThrow();
        first.store().appendEvent(running.id(), "progress", "{\"step\":1}");
        first.store().complete(running.id(), "{}");

        Set<String> expected = webhookIds(first.store(), jobIds);
        assertThat(expected).hasSizeGreaterThanOrEqualTo(5); // queued x2, started, progress, completed
        await(() -> first.outbox().loadPending().size() == expected.size() && failedAttempts.get() >= 2,
                "every event saved to the outbox and the down receiver tried");

        // kill: the database goes away under the process first, so nothing is marked done, then its threads stop
        first.pool().close();
        first.relay().close();

        try (WebhookReceiver receiver = new WebhookReceiver(SECRET, port)) {
            Process second = start(url, "second", settings(Duration.ofMillis(200)), WebhookListener.NONE);
            try {
                assertThat(ids(second.outbox().loadPending())).containsExactlyInAnyOrderElementsOf(expected);
                Map<String, String> bodies = new HashMap<>();
                long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
                while (!bodies.keySet().containsAll(expected) && System.nanoTime() < end) {
                    WebhookReceiver.Delivery d = receiver.poll(1);
                    if (d == null) continue;
                    String earlier = bodies.putIfAbsent(d.id(), d.body());
                    if (earlier != null) assertThat(d.body()).as("a duplicate of " + d.id() + " is the same message").isEqualTo(earlier);
                }
                assertThat(new TreeSet<>(bodies.keySet())).as("none lost").containsExactlyElementsOf(new TreeSet<>(expected));
                for (var e : bodies.entrySet()) {
                    String[] parts = e.getKey().split("_");
                    assertThat(e.getValue()).contains("\"seq\":" + parts[parts.length - 1]);
                }
                await(() -> second.outbox().loadPending().isEmpty(), "the outbox emptied once delivered");
            } finally {
                second.relay().close();
                second.pool().close();
            }
        }
    }

    /** The webhook-id of every event of these jobs a webhook can receive, as the relay names them. */
    static Set<String> webhookIds(JdbcJobStore store, List<String> jobIds) {
        Set<String> ids = new TreeSet<>();
        for (String id : jobIds) {
            for (JobEvent e : store.events(id, 0)) {
                if (JobEventType.of(e.type()).map(JobEventType::webhook).orElse(false)
                        && WebhookTarget.EVENT_TYPES.contains(e.type())) {
                    ids.add("msg_" + id + "_" + e.seq());
                }
            }
        }
        return ids;
    }

    static List<String> ids(List<WebhookDelivery> deliveries) {
        return deliveries.stream().map(d -> d.message().id()).toList();
    }

    static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) throw new AssertionError("timed out waiting until " + what);
            Thread.sleep(50);
        }
    }
}
