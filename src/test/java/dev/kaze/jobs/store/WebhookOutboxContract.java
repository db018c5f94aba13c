package dev.kaze.jobs.store;

import dev.kaze.jobs.store.JobStoreContract.MovableClock;
import dev.kaze.jobs.webhooks.WebhookDelivery;
import dev.kaze.jobs.webhooks.WebhookMessage;
import dev.kaze.jobs.webhooks.WebhookSignature;
import dev.kaze.jobs.webhooks.WebhookTarget;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;

import javax.sql.DataSource;
import java.net.URI;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** What every database must show for {@link JdbcWebhookOutbox}; subclasses give the database (H2, PostgreSQL). */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
abstract class WebhookOutboxContract {
    static final String SECRET = WebhookSignature.newSecret();
    static final Duration LEASE = Duration.ofSeconds(10);

    DataSource dataSource;
    MovableClock clock;

    /** A migrated database for this class; called once. */
    abstract DataSource openDataSource();

    abstract void closeDataSources() throws Exception;

    @BeforeAll
    void open() {
        dataSource = openDataSource();
    }

    @AfterAll
    void close() throws Exception {
        closeDataSources();
    }

    @BeforeEach
    void empty() throws Exception {
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
            st.execute("DELETE FROM webhook_outbox");
        }
        clock = new MovableClock(Instant.parse("2026-03-01T10:00:00Z"));
    }

    JdbcWebhookOutbox outbox(String replica) {
        return new JdbcWebhookOutbox(dataSource, replica, LEASE, SECRET, clock);
    }

    static WebhookDelivery delivery(String job, long seq) {
        WebhookTarget target = new WebhookTarget(URI.create("https://example.com/hooks?job=" + job),
                Set.of("completed", "failed"), SECRET);
        return new WebhookDelivery(target, new WebhookMessage("msg_" + job + "_" + seq, job, seq, "completed",
                "{\"type\":\"video.completed\",\"data\":{\"id\":\"" + job + "\",\"note\":\"é ✓\"}}"));
    }

    static List<String> ids(List<WebhookDelivery> deliveries) {
        return deliveries.stream().map(d -> d.message().id()).toList();
    }

    @Test
    void keepsEveryFieldOfASavedDeliveryUntilItIsDone() {
        JdbcWebhookOutbox a = outbox("a");
        WebhookDelivery d1 = delivery("vid_1", 3), d2 = delivery("vid_2", 1);
        assertThat(a.save(d1)).isTrue();
        clock.advance(Duration.ofMillis(1));
        assertThat(a.save(d2)).isTrue();
        List<WebhookDelivery> pending = a.loadPending();
        assertThat(pending).containsExactly(d1, d2); // records: url, events, secret, id, job, seq, type, body
        a.markDone(d1.message().id());
        a.markDone("msg_unknown");
        assertThat(ids(a.loadPending())).containsExactly(d2.message().id());
    }

    @Test
    void aMessageIdIsSavedOnceEvenAfterItIsDone() {
        JdbcWebhookOutbox a = outbox("a"), b = outbox("b");
        WebhookDelivery d = delivery("vid_1", 1);
        assertThat(a.save(d)).isTrue();
        assertThat(b.save(d)).as("another replica relaying the same event").isFalse();
        assertThat(a.save(d)).isFalse();
        a.markDone(d.message().id());
        assertThat(b.save(d)).as("a late relay of a delivered event").isFalse();
        assertThat(a.loadPending()).isEmpty();
    }

    @Test
    void aLiveClaimIsNotTakenAndAnExpiredOneIs() {
        JdbcWebhookOutbox a = outbox("a"), b = outbox("b");
        WebhookDelivery d = delivery("vid_1", 1);
        a.save(d);
        assertThat(b.claimPending()).isEmpty();
        clock.advance(LEASE.minusSeconds(2));
        a.renewClaims();
        clock.advance(Duration.ofSeconds(5));
        assertThat(b.claimPending()).as("renewed, so still a's").isEmpty();
        clock.advance(LEASE); // a stopped renewing: it died
        assertThat(b.claimPending()).containsExactly(d);
        assertThat(b.claimPending()).as("b holds it now").isEmpty();
        assertThat(a.claimPending()).isEmpty();
        b.markDone(d.message().id());
        clock.advance(LEASE.multipliedBy(3));
        assertThat(a.claimPending()).as("done").isEmpty();
    }

    @Test
    void aRestartedProcessClaimsWhatTheDeadOneLeftInSavedOrder() {
        JdbcWebhookOutbox dead = outbox("host-1-aaaa");
        List<WebhookDelivery> saved = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            saved.add(delivery("vid_" + (i % 2), i));
            dead.save(saved.getLast());
            clock.advance(Duration.ofMillis(1));
        }
        dead.markDone(saved.get(2).message().id());
        clock.advance(LEASE.plusSeconds(1));
        JdbcWebhookOutbox next = outbox("host-1-bbbb");
        assertThat(ids(next.claimPending())).containsExactly("msg_vid_0_0", "msg_vid_1_1", "msg_vid_1_3", "msg_vid_0_4");
    }

    @Test
    void doneRowsArePurgedAfterTheRetention() throws Exception {
        JdbcWebhookOutbox a = outbox("a");
        WebhookDelivery d = delivery("vid_1", 1);
        a.save(d);
        a.markDone(d.message().id());
        a.renewClaims();
        assertThat(rows()).isEqualTo(1);
        clock.advance(JdbcWebhookOutbox.DONE_RETENTION.plusSeconds(1));
        a.renewClaims();
        assertThat(rows()).isZero();
    }

    @Test
    void replicasClaimingAtOnceNeverShareADelivery() throws Exception {
        JdbcWebhookOutbox dead = outbox("dead");
        int n = 300;
        for (int i = 0; i < n; i++) dead.save(delivery("vid_" + (i % 17), i));
        clock.advance(LEASE.plusSeconds(1));
        int replicas = 4;
        CyclicBarrier start = new CyclicBarrier(replicas);
        List<Future<List<String>>> claims = new ArrayList<>();
        try (ExecutorService pool = Executors.newFixedThreadPool(replicas)) {
            for (int r = 0; r < replicas; r++) {
                // its own pool per replica where the database allows it, so claims really race
                JdbcWebhookOutbox replica = new JdbcWebhookOutbox(secondDataSource(r), "replica-" + r, LEASE, SECRET, clock);
                claims.add(pool.submit(() -> {
                    start.await();
                    List<String> mine = new ArrayList<>();
                    for (int round = 0; round < 20; round++) mine.addAll(ids(replica.claimPending()));
                    return mine;
                }));
            }
            Set<String> all = new HashSet<>();
            int total = 0;
            for (Future<List<String>> f : claims) {
                List<String> mine = f.get(60, TimeUnit.SECONDS);
                total += mine.size();
                all.addAll(mine);
            }
            assertThat(all).hasSize(n);
            assertThat(total).as("no delivery claimed twice").isEqualTo(n);
        }
    }

    /** A data source for one of several replicas (its own pool where possible). */
    DataSource secondDataSource(int replica) {
        return dataSource;
    }

    long rows() throws Exception {
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement();
             var rs = st.executeQuery("SELECT COUNT(*) FROM webhook_outbox")) {
            rs.next();
            return rs.getLong(1);
        }
    }
}
