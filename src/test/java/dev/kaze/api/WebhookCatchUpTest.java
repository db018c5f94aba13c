package dev.kaze.api;

import com.zaxxer.hikari.HikariDataSource;
import dev.kaze.jobs.Job;
import dev.kaze.jobs.JobKind;
import dev.kaze.jobs.NewJob;
import dev.kaze.jobs.WebhookRelay;
import dev.kaze.jobs.store.H2JobStoreTest;
import dev.kaze.jobs.store.JdbcJobStore;
import dev.kaze.jobs.store.JdbcWebhookOutbox;
import dev.kaze.jobs.store.JobSchema;
import dev.kaze.jobs.webhooks.WebhookDispatcher;
import dev.kaze.jobs.webhooks.WebhookListener;
import dev.kaze.jobs.webhooks.WebhookSignature;
import dev.kaze.json.Json;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Events committed while no webhook relay ran (the window between an event's commit and its relay saving it to the
 * outbox, when the process is killed) go out when a relay starts: its catch-up re-reads the recent webhook events,
 * relays each once with the {@code webhook-id} of its event, relays nothing twice (the outbox remembers what went
 * out, also across relays), and leaves events older than its window alone.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class WebhookCatchUpTest {
    static final String SECRET = WebhookSignature.newSecret();

    /** The store's clock: the system's, moved by an offset, to append events in the past. */
    static final class OffsetClock extends Clock {
        final AtomicReference<Duration> offset = new AtomicReference<>(Duration.ZERO);

        @Override public ZoneId getZone() { return ZoneOffset.UTC; }

        @Override public Clock withZone(ZoneId zone) { return this; }

        @Override public Instant instant() { return Instant.now().plus(offset.get()); }
    }

    final OffsetClock storeClock = new OffsetClock();
    final List<AutoCloseable> toClose = new ArrayList<>();
    HikariDataSource pool;
    JdbcJobStore store;
    WebhookReceiver receiver;

    @BeforeEach
    void open(@TempDir Path dir) throws Exception {
        pool = H2JobStoreTest.pool("jdbc:h2:file:" + dir.resolve("jobs").toAbsolutePath(), "catch-up");
        JobSchema.migrate(pool, null);
        store = new JdbcJobStore(pool, storeClock, JdbcJobStore.DEFAULT_WORKER_TIMEOUT);
        receiver = new WebhookReceiver(SECRET);
    }

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : toClose.reversed()) c.close();
        receiver.close();
        store.close();
        pool.close();
    }

    /** A relay as the server makes one, on this test's store, under {@code replica}'s outbox claims. */
    WebhookRelay startRelay(String replica, WebhookRelay.CatchUp catchUp) {
        return startRelay(replica, catchUp, 1000);
    }

    /** As {@link #startRelay(String, WebhookRelay.CatchUp)}, its dispatcher dropping messages beyond {@code maxPending}. */
    WebhookRelay startRelay(String replica, WebhookRelay.CatchUp catchUp, int maxPending) {
        JdbcWebhookOutbox outbox = new JdbcWebhookOutbox(pool, replica, Duration.ofSeconds(30), SECRET, Clock.systemUTC());
        WebhookDispatcher.Settings settings = new WebhookDispatcher.Settings(List.of(Duration.ofMillis(200)), 0,
                Duration.ofSeconds(1), Duration.ofSeconds(5), Duration.ofSeconds(5), maxPending);
        WebhookRelay relay = new WebhookRelay(store, new WebhookDispatcher(settings, outbox, WebhookListener.NONE),
                SECRET, catchUp, Clock.systemUTC());
        toClose.add(relay);
        relay.start();
        return relay;
    }

    Job hooked(String events) {
        return store.create(new NewJob(JobKind.VIDEO, "alice", 0, "{\"prompt\":\"a cat\"}", null, "{\"tag\":\"t\"}",
                "{\"url\":\"" + receiver.url() + "\",\"events\":" + events + "}", null, null));
    }

    /** Deliveries by webhook-id until none came for {@code quiet}; fails on a second delivery of one id. */
    Map<String, String> receive(Duration quiet) throws InterruptedException {
        Map<String, String> got = new HashMap<>();
        while (true) {
            WebhookReceiver.Delivery d = receiver.poll(quiet.toSeconds());
            if (d == null) return got;
            assertThat(got.put(d.id(), d.body())).as("a second delivery of " + d.id()).isNull();
        }
    }

    @Test
    void eventsAppendedWhileNoRelayRanGoOutOnceWhenOneStarts() throws Exception {
        // two days ago, long before the catch-up's window: a job and its first events (their relay is long gone)
        storeClock.offset.set(Duration.ofDays(-2));
        Job a = hooked("[\"queued\",\"started\",\"progress\",\"completed\"]");  // #1 queued
        store.appendEvent(a.id(), "progress", "{\"step\":0}");                   // #2
        // now, with no relay running: the process died after committing these
        storeClock.offset.set(Duration.ZERO);
        assertThat(store.claimNext("worker").map(Job::id)).contains(a.id());      // #3 started
        store.appendEvent(a.id(), "progress", "{\"step\":1}");                   // #4
        store.appendEvent(a.id(), "notes", "{}");                                 // #5, never sent to webhooks
        store.complete(a.id(), null);                                             // #6 completed
        Job b = hooked("[\"completed\"]");                                        // #1 queued, not asked for
        Job plain = store.create(new NewJob(JobKind.VIDEO, "alice", 0, "{\"prompt\":\"a dog\"}", null, null, null, null, null));
        store.appendEvent(plain.id(), "progress", "{\"step\":1}");

        WebhookRelay first = startRelay("first", WebhookRelay.CatchUp.within(JdbcWebhookOutbox.DONE_RETENTION, 1000));
        Map<String, String> got = receive(Duration.ofSeconds(3));
        String prefix = "msg_" + a.id() + "_";
        assertThat(got.keySet()).as("each recent event its webhook asked for, once")
                .containsExactlyInAnyOrder(prefix + 3, prefix + 4, prefix + 6);
        for (long seq : List.of(3L, 4L, 6L)) {
            var body = Json.MAPPER.readTree(got.get(prefix + seq));
            assertThat(body.get("data").get("seq").asLong()).isEqualTo(seq);
            assertThat(body.get("data").get("id").asString()).isEqualTo(a.id());
            assertThat(body.get("data").get("metadata").get("tag").asString()).isEqualTo("t");
        }
        assertThat(Json.MAPPER.readTree(got.get(prefix + 6)).get("type").asString()).isEqualTo("video.completed");
        assertThat(Json.MAPPER.readTree(got.get(prefix + 4)).get("data").get("event_data").get("step").asInt()).isEqualTo(1);

        // another pass of the same relay, then a new relay (a restart): nothing goes out again
        assertThat(first.catchUp()).isZero();
        first.close();
        WebhookRelay second = startRelay("second", WebhookRelay.CatchUp.within(JdbcWebhookOutbox.DONE_RETENTION, 1000));
        assertThat(second.catchUp()).isZero();
        assertThat(receive(Duration.ofSeconds(2))).as("delivered before, not again").isEmpty();

        // the live path still relays, with the same ids, and a pass after it sends nothing twice
        store.appendEvent(b.id(), "completed", "{}");
        assertThat(receive(Duration.ofSeconds(2)).keySet()).containsExactly("msg_" + b.id() + "_2");
        assertThat(second.catchUp()).isZero();
        assertThat(receive(Duration.ofSeconds(1))).isEmpty();
    }

    @Test
    void aCatchUpThatMeetsAFullQueueGoesOnAtItsNextPassAndLosesNothing() throws Exception {
        // appended ten minutes ago: inside the window, before what a pass that went through would look at next
        storeClock.offset.set(Duration.ofMinutes(-10));
        List<String> expected = new ArrayList<>();
        for (int j = 0; j < 4; j++) {
            Job job = hooked("[\"queued\",\"progress\"]");
            expected.add("msg_" + job.id() + "_1");
            for (int step = 0; step < 5; step++) {
                expected.add("msg_" + job.id() + "_" + store.appendEvent(job.id(), "progress", "{\"step\":" + step + "}").seq());
            }
        }
        // a dispatcher that drops beyond 2 pending, a catch-up that hands over nothing while one is: each pass hands
        // over one event and stops, the next goes on from where that one started
        startRelay("paced", new WebhookRelay.CatchUp(Duration.ofHours(1), Duration.ofMillis(50), 1), 2);
        Map<String, String> got = new HashMap<>();
        long end = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (got.size() < expected.size() && System.nanoTime() < end) {
            WebhookReceiver.Delivery d = receiver.poll(1);
            if (d != null) assertThat(got.put(d.id(), d.body())).as("a second delivery of " + d.id()).isNull();
        }
        assertThat(got.keySet()).containsExactlyInAnyOrderElementsOf(expected);
        assertThat(receive(Duration.ofSeconds(1))).isEmpty();
    }
}
