package dev.kaze.jobs.store;

import dev.kaze.jobs.Checkpoint;
import dev.kaze.jobs.IdempotencyConflictException;
import dev.kaze.jobs.Job;
import dev.kaze.jobs.JobEvent;
import dev.kaze.jobs.JobKind;
import dev.kaze.jobs.JobNotFoundException;
import dev.kaze.jobs.JobPage;
import dev.kaze.jobs.JobStatus;
import dev.kaze.jobs.JobStore;
import dev.kaze.jobs.NewJob;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.LongStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The behaviour every {@link JobStore} database must show; subclasses give the database (H2, PostgreSQL). Each test
 * starts from empty tables with a fresh store.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
abstract class JobStoreContract {
    /** A migrated database for this class; called once. */
    abstract DataSource openDataSource() throws Exception;

    /** A second, independent connection pool on the same database (another "process"). */
    abstract DataSource openSecondDataSource() throws Exception;

    /** Closes the first pool and drops what {@link #openDataSource} made; called once. */
    abstract void closeDataSources() throws Exception;

    /** True where events appended through one store reach another store's subscribers (PostgreSQL). */
    abstract boolean sharesEventsAcrossStores();

    DataSource dataSource;
    JdbcJobStore store;
    final List<AutoCloseable> toClose = new ArrayList<>();

    @BeforeAll
    void openDatabase() throws Exception {
        dataSource = openDataSource();
    }

    @AfterAll
    void closeDatabase() throws Exception {
        closeDataSources();
    }

    @BeforeEach
    void freshStore() throws Exception {
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
            st.executeUpdate("DELETE FROM job_checkpoints");
            st.executeUpdate("DELETE FROM job_events");
            st.executeUpdate("DELETE FROM jobs");
            st.executeUpdate("DELETE FROM job_workers");
        }
        store = new JdbcJobStore(dataSource);
    }

    @AfterEach
    void closeStore() throws Exception {
        for (AutoCloseable c : toClose.reversed()) c.close();
        toClose.clear();
        store.close();
    }

    static NewJob video(String owner, int priority) {
        return new NewJob(JobKind.VIDEO, owner, priority, "{\"prompt\":\"a cat\"}", null, null, null, null, null);
    }

    static NewJob keyed(String owner, String key, String hash) {
        return new NewJob(JobKind.VIDEO, owner, 0, "{\"prompt\":\"" + hash + "\"}", null, null, null, key, hash);
    }

    static <T> List<T> runConcurrently(int threads, Callable<T> task) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        CyclicBarrier start = new CyclicBarrier(threads);
        try {
            List<Future<T>> futures = new ArrayList<>();
            for (int t = 0; t < threads; t++)
                futures.add(pool.submit(() -> {
                    start.await(30, TimeUnit.SECONDS);
                    return task.call();
                }));
            List<T> out = new ArrayList<>();
            for (Future<T> f : futures) out.add(f.get(90, TimeUnit.SECONDS));
            return out;
        } finally {
            pool.shutdownNow();
        }
    }

    /** A second pool for this test, closed after it. */
    DataSource secondDataSource() throws Exception {
        DataSource ds = openSecondDataSource();
        if (ds instanceof AutoCloseable c) toClose.add(c);
        return ds;
    }

    List<String> eventTypes(String id) {
        return store.events(id, 0).stream().map(JobEvent::type).toList();
    }

    // ------------------------------------------------------------------ create / find

    @Test
    void createStoresAQueuedJobWithItsFirstEvent() {
        Instant before = Instant.now().truncatedTo(ChronoUnit.MICROS);
        Job job = store.create(new NewJob(JobKind.VIDEO, "alice", 5, "{\"prompt\":\"totoro\"}", "{\"steps\":4}",
                "{\"tag\":\"x\"}", "{\"url\":\"http://127.0.0.1/hook\"}", null, "h1"));
        Instant after = Instant.now();

        assertThat(job.id()).matches("video_[A-Za-z0-9_-]{22}");
        assertThat(job.kind()).isEqualTo(JobKind.VIDEO);
        assertThat(job.owner()).isEqualTo("alice");
        assertThat(job.status()).isEqualTo(JobStatus.QUEUED);
        assertThat(job.priority()).isEqualTo(5);
        assertThat(job.requestJson()).isEqualTo("{\"prompt\":\"totoro\"}");
        assertThat(job.resolvedJson()).isEqualTo("{\"steps\":4}");
        assertThat(job.metadataJson()).isEqualTo("{\"tag\":\"x\"}");
        assertThat(job.webhookJson()).isEqualTo("{\"url\":\"http://127.0.0.1/hook\"}");
        assertThat(job.requestHash()).isEqualTo("h1");
        assertThat(job.idempotencyKey()).isNull();
        assertThat(job.progress()).isZero();
        assertThat(job.workerId()).isNull();
        assertThat(job.cancelRequested()).isFalse();
        assertThat(job.createdAt()).isBetween(before, after);
        assertThat(job.createdAt().getNano() % 1000).as("microsecond precision").isZero();
        assertThat(job.startedAt()).isNull();
        assertThat(job.completedAt()).isNull();

        assertThat(store.find(job.id())).contains(job);
        List<JobEvent> events = store.events(job.id(), 0);
        assertThat(events).hasSize(1);
        assertThat(events.getFirst().seq()).isEqualTo(1);
        assertThat(events.getFirst().type()).isEqualTo("queued");
        assertThat(events.getFirst().jobId()).isEqualTo(job.id());

        Job training = store.create(new NewJob(JobKind.TRAINING, "alice", 0, "{}", null, null, null, null, null));
        assertThat(training.id()).matches("train_[A-Za-z0-9_-]{22}");
        assertThat(JobKind.ofId(training.id())).isEqualTo(JobKind.TRAINING);

        assertThat(store.find("video_doesnotexist")).isEmpty();
        assertThat(store.find(null)).isEmpty();
        assertThat(store.events("video_doesnotexist", 0)).isEmpty();
    }

    @Test
    void idsAreUniqueAndCreatedAtIncreases() {
        Set<String> ids = new HashSet<>();
        Instant previous = Instant.EPOCH;
        for (int i = 0; i < 50; i++) {
            Job j = store.create(video("alice", 0));
            assertThat(ids.add(j.id())).isTrue();
            assertThat(j.createdAt()).isAfter(previous);
            previous = j.createdAt();
        }
    }

    @Test
    void newJobRejectsWhatCannotBeStored() {
        assertThatThrownBy(() -> new NewJob(JobKind.VIDEO, " ", 0, "{}", null, null, null, null, null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("owner");
        assertThatThrownBy(() -> new NewJob(JobKind.VIDEO, "a", 0, "{}", null, null, null, "k".repeat(256), null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("Idempotency-Key");
    }

    // ------------------------------------------------------------------ idempotency

    @Test
    void sameIdempotencyKeyAndHashReturnTheFirstJob() {
        Job first = store.create(keyed("alice", "key-1", "hash-a"));
        Job again = store.create(keyed("alice", "key-1", "hash-a"));
        assertThat(again).isEqualTo(first);
        assertThat(store.queueDepth()).isEqualTo(1);
        assertThat(store.events(first.id(), 0)).hasSize(1);

        assertThatThrownBy(() -> store.create(keyed("alice", "key-1", "hash-b")))
                .isInstanceOfSatisfying(IdempotencyConflictException.class,
                        e -> assertThat(e.existingJobId()).isEqualTo(first.id()));
        assertThat(store.queueDepth()).isEqualTo(1);

        Job otherOwner = store.create(keyed("bob", "key-1", "hash-b"));
        assertThat(otherOwner.id()).isNotEqualTo(first.id());

        Job noKey1 = store.create(video("alice", 0));
        Job noKey2 = store.create(video("alice", 0));
        assertThat(noKey1.id()).isNotEqualTo(noKey2.id());
        assertThat(store.queueDepth()).isEqualTo(4);

        // once the job is deleted the key is free again
        store.delete(first.id());
        assertThat(store.create(keyed("alice", "key-1", "hash-b")).id()).isNotEqualTo(first.id());
    }

    @Test
    void concurrentSubmissionsWithOneKeyMakeOneJob() throws Exception {
        List<String> ids = runConcurrently(8, () -> store.create(keyed("alice", "retry-me", "h")).id());
        assertThat(new HashSet<>(ids)).hasSize(1);
        assertThat(store.countActive("alice")).isEqualTo(1);
        assertThat(store.events(ids.getFirst(), 0)).hasSize(1);
    }

    // ------------------------------------------------------------------ list

    @Test
    void listIsNewestFirstWithAStableCursor() {
        List<String> created = new ArrayList<>();
        for (int i = 0; i < 10; i++) created.add(store.create(video(i % 3 == 0 ? "bob" : "alice", i % 2)).id());
        List<String> newestFirst = new ArrayList<>(created);
        Collections.reverse(newestFirst);

        List<String> paged = new ArrayList<>();
        JobPage page = store.list(null, null, null, 3);
        paged.addAll(page.jobs().stream().map(Job::id).toList());
        // a job submitted while a client pages must not shift the pages after the first
        String late = store.create(video("alice", 9)).id();
        int pages = 1;
        while (page.nextCursor() != null) {
            page = store.list(null, null, page.nextCursor(), 3);
            paged.addAll(page.jobs().stream().map(Job::id).toList());
            pages++;
        }
        assertThat(paged).containsExactlyElementsOf(newestFirst);
        assertThat(pages).isEqualTo(4);
        assertThat(store.list(null, null, null, 100).jobs().getFirst().id()).isEqualTo(late);
        assertThat(store.list(null, null, null, 11).nextCursor()).isNull();

        List<String> alice = store.list("alice", null, null, 100).jobs().stream().map(Job::id).toList();
        assertThat(alice).hasSize(7).first().isEqualTo(late);
        assertThat(store.list("bob", null, null, 100).jobs()).hasSize(4)
                .allSatisfy(j -> assertThat(j.owner()).isEqualTo("bob"));

        store.complete(created.get(4), null);
        assertThat(store.list(null, JobStatus.COMPLETED, null, 10).jobs()).extracting(Job::id)
                .containsExactly(created.get(4));
        assertThat(store.list("bob", JobStatus.COMPLETED, null, 10).jobs()).isEmpty();
        assertThat(store.list(null, JobStatus.QUEUED, null, 100).jobs()).hasSize(10);

        assertThatThrownBy(() -> store.list(null, null, "not-a-cursor!", 3))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("cursor");
        assertThatThrownBy(() -> store.list(null, null, null, 0)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void listOldestFirstAndAfterAJobId() {
        List<String> created = new ArrayList<>();
        for (int i = 0; i < 5; i++) created.add(store.create(video(i == 2 ? "bob" : "alice", 0)).id());
        List<String> aliceOldestFirst = List.of(created.get(0), created.get(1), created.get(3), created.get(4));

        List<String> paged = new ArrayList<>();
        JobPage page = store.list("alice", null, null, 3, true);
        paged.addAll(page.jobs().stream().map(Job::id).toList());
        page = store.list("alice", null, page.nextCursor(), 3, true);
        paged.addAll(page.jobs().stream().map(Job::id).toList());
        assertThat(paged).containsExactlyElementsOf(aliceOldestFirst);
        assertThat(page.nextCursor()).isNull();

        // OpenAI's `after`: the id of the last job seen, in either order
        assertThat(store.list("alice", null, created.get(1), 10, true).jobs()).extracting(Job::id)
                .containsExactly(created.get(3), created.get(4));
        assertThat(store.list("alice", null, created.get(3), 10, false).jobs()).extracting(Job::id)
                .containsExactly(created.get(1), created.get(0));
        // another owner's job id is no cursor for alice
        assertThatThrownBy(() -> store.list("alice", null, created.get(2), 10, false))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(created.get(2));
    }

    // ------------------------------------------------------------------ claim

    @Test
    void claimsHighestPriorityFirstThenInSubmissionOrder() {
        String a = store.create(video("u", 0)).id();
        String b = store.create(video("u", 5)).id();
        String c = store.create(video("u", 0)).id();
        String d = store.create(video("u", 5)).id();
        String e = store.create(video("u", 10)).id();

        assertThat(store.queueDepth()).isEqualTo(5);
        assertThat(List.of(e, b, d, a, c)).extracting(store::queuePosition).containsExactly(0, 1, 2, 3, 4);

        Job first = store.claimNext("worker-1").orElseThrow();
        assertThat(first.id()).isEqualTo(e);
        assertThat(first.status()).isEqualTo(JobStatus.IN_PROGRESS);
        assertThat(first.workerId()).isEqualTo("worker-1");
        assertThat(first.startedAt()).isAfterOrEqualTo(first.createdAt());
        assertThat(eventTypes(e)).containsExactly("queued", "started");
        assertThat(store.queuePosition(e)).isNull();
        assertThat(store.queuePosition(b)).isZero();
        assertThat(store.queuePosition(c)).isEqualTo(3);
        assertThat(store.queuePosition("video_unknown")).isNull();
        assertThat(store.queueDepth()).isEqualTo(4);

        List<String> order = new ArrayList<>();
        Optional<Job> next;
        while ((next = store.claimNext("worker-1")).isPresent()) order.add(next.get().id());
        assertThat(order).containsExactly(b, d, a, c);
        assertThat(store.claimNext("worker-1")).isEmpty();
        assertThat(store.queueDepth()).isZero();
    }

    @Test
    void eightThreadsNeverClaimTheSameJob() throws Exception {
        Set<String> all = new HashSet<>();
        for (int i = 0; i < 48; i++) all.add(store.create(video("u", i % 3)).id());
        List<List<String>> perThread = runConcurrently(8, () -> {
            String worker = "w-" + Thread.currentThread().threadId();
            List<String> mine = new ArrayList<>();
            Optional<Job> j;
            while ((j = store.claimNext(worker)).isPresent()) mine.add(j.get().id());
            return mine;
        });
        assertClaimedOnceEach(all, perThread);
    }

    @Test
    void twoConnectionPoolsNeverClaimTheSameJob() throws Exception {
        JdbcJobStore other = new JdbcJobStore(secondDataSource());
        toClose.add(other);
        Set<String> all = new HashSet<>();
        for (int i = 0; i < 48; i++) all.add(store.create(video("u", i % 2)).id());
        JobStore[] stores = {store, other};
        AtomicInteger next = new AtomicInteger();
        List<List<String>> perThread = runConcurrently(8, () -> {
            JobStore s = stores[next.getAndIncrement() % 2];
            List<String> mine = new ArrayList<>();
            Optional<Job> j;
            while ((j = s.claimNext("w-" + Thread.currentThread().threadId())).isPresent()) mine.add(j.get().id());
            return mine;
        });
        assertClaimedOnceEach(all, perThread);
    }

    void assertClaimedOnceEach(Set<String> all, List<List<String>> perThread) {
        List<String> claimed = perThread.stream().flatMap(List::stream).toList();
        assertThat(claimed).hasSize(all.size()).doesNotHaveDuplicates();
        assertThat(new HashSet<>(claimed)).isEqualTo(all);
        for (String id : all) {
            assertThat(store.find(id).orElseThrow().status()).isEqualTo(JobStatus.IN_PROGRESS);
            assertThat(eventTypes(id)).containsExactly("queued", "started");
        }
        assertThat(store.queueDepth()).isZero();
    }

    // ------------------------------------------------------------------ progress and events

    @Test
    void progressNeverDecreases() {
        String id = store.create(video("u", 0)).id();
        store.claimNext("w");
        store.updateProgress(id, 40, "denoise", 4, 10);
        Job j = store.find(id).orElseThrow();
        assertThat(j.progress()).isEqualTo(40);
        assertThat(j.stage()).isEqualTo("denoise");
        assertThat(j.step()).isEqualTo(4);
        assertThat(j.totalSteps()).isEqualTo(10);

        store.updateProgress(id, 20, "decode", 10, 10);
        j = store.find(id).orElseThrow();
        assertThat(j.progress()).isEqualTo(40);
        assertThat(j.stage()).isEqualTo("decode");
        assertThat(j.step()).isEqualTo(10);

        store.updateProgress(id, 90, "encode", 10, 10);
        assertThat(store.find(id).orElseThrow().progress()).isEqualTo(90);

        assertThatThrownBy(() -> store.updateProgress(id, 101, "x", 0, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> store.updateProgress(id, -1, "x", 0, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> store.updateProgress("video_missing", 1, "x", 0, 0))
                .isInstanceOf(JobNotFoundException.class);

        store.complete(id, null);
        store.updateProgress(id, 95, "late", 10, 10);
        j = store.find(id).orElseThrow();
        assertThat(j.progress()).isEqualTo(100);
        assertThat(j.stage()).isEqualTo("encode");
        assertThat(eventTypes(id)).containsExactly("queued", "started", "completed");
    }

    @Test
    void eventSeqIsGapFreeUnderConcurrentAppends() throws Exception {
        String id = store.create(video("u", 0)).id();
        List<List<Long>> perThread = runConcurrently(8, () -> {
            List<Long> seqs = new ArrayList<>();
            for (int i = 0; i < 25; i++)
                seqs.add(store.appendEvent(id, "progress", "{\"i\":" + i + "}").seq());
            return seqs;
        });
        List<Long> returned = perThread.stream().flatMap(List::stream).sorted().toList();
        List<Long> expected = new ArrayList<>();
        for (long s = 2; s <= 201; s++) expected.add(s);
        assertThat(returned).isEqualTo(expected);

        List<JobEvent> events = store.events(id, 0);
        assertThat(events).extracting(JobEvent::seq).containsExactlyElementsOf(
                LongStream.rangeClosed(1, 201).boxed().toList());
        assertThat(events.subList(1, events.size())).allSatisfy(e -> {
            assertThat(e.type()).isEqualTo("progress");
            assertThat(e.dataJson()).startsWith("{\"i\":");
        });
        for (int t = 0; t < perThread.size(); t++)
            assertThat(perThread.get(t)).as("seqs seen by one thread increase").isSorted();

        assertThat(store.events(id, 150)).extracting(JobEvent::seq).first().isEqualTo(151L);
        assertThat(store.events(id, 150)).hasSize(51);
        assertThat(store.events(id, 201)).isEmpty();
        assertThatThrownBy(() -> store.appendEvent("video_missing", "x", null)).isInstanceOf(JobNotFoundException.class);
        assertThatThrownBy(() -> store.appendEvent(id, "", null)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void appendedEventKeepsItsData() {
        String id = store.create(video("u", 0)).id();
        JobEvent e = store.appendEvent(id, "preview", "{\"frame\":3,\"url\":\"/v1/videos/x/preview\"}");
        assertThat(e.seq()).isEqualTo(2);
        assertThat(e.jobId()).isEqualTo(id);
        assertThat(store.events(id, 1)).containsExactly(e);
    }

    // ------------------------------------------------------------------ terminal transitions

    @Test
    void completeFailAndCancelAppendOnceAndAreIdempotent() {
        Job job = store.create(new NewJob(JobKind.VIDEO, "u", 0, "{}", "{\"v\":1}", null, null, null, null));
        store.claimNext("w");
        Job done = store.complete(job.id(), "{\"v\":2}");
        assertThat(done.status()).isEqualTo(JobStatus.COMPLETED);
        assertThat(done.resolvedJson()).isEqualTo("{\"v\":2}");
        assertThat(done.progress()).isEqualTo(100);
        assertThat(done.completedAt()).isAfterOrEqualTo(done.startedAt());
        assertThat(eventTypes(job.id())).containsExactly("queued", "started", "completed");
        assertThat(store.complete(job.id(), "{\"v\":3}")).isEqualTo(done);
        assertThat(store.fail(job.id(), "{}")).isEqualTo(done);
        assertThat(store.cancel(job.id())).isEqualTo(done);
        assertThat(store.events(job.id(), 0)).hasSize(3);

        Job kept = store.create(new NewJob(JobKind.VIDEO, "u", 0, "{}", "{\"v\":1}", null, null, null, null));
        assertThat(store.complete(kept.id(), null).resolvedJson()).isEqualTo("{\"v\":1}");

        String failing = store.create(video("u", 0)).id();
        store.claimNext("w");
        Job failed = store.fail(failing, "{\"type\":\"https://kaze.dev/problems/out-of-memory\",\"status\":500}");
        assertThat(failed.status()).isEqualTo(JobStatus.FAILED);
        assertThat(failed.errorJson()).contains("out-of-memory");
        assertThat(failed.completedAt()).isNotNull();
        JobEvent failedEvent = store.events(failing, 0).getLast();
        assertThat(failedEvent.type()).isEqualTo("failed");
        assertThat(failedEvent.dataJson()).contains("\"error\":{\"type\":\"https://kaze.dev/problems/out-of-memory\"");
        assertThat(store.fail(failing, "{\"other\":1}").errorJson()).contains("out-of-memory");

        String plain = store.create(video("u", 0)).id();
        assertThat(store.fail(plain, "disk \"full\"").errorJson()).isEqualTo("disk \"full\"");
        assertThat(store.events(plain, 0).getLast().dataJson()).contains("\"error\":\"disk \\\"full\\\"\"");

        String queued = store.create(video("u", 0)).id();
        assertThat(store.queueDepth()).isEqualTo(1);
        Job cancelled = store.cancel(queued);
        assertThat(cancelled.status()).isEqualTo(JobStatus.CANCELLED);
        assertThat(cancelled.completedAt()).isNotNull();
        assertThat(eventTypes(queued)).containsExactly("queued", "cancelled");
        assertThat(store.queueDepth()).isZero();
        assertThat(store.claimNext("w")).isEmpty();

        assertThatThrownBy(() -> store.complete("video_missing", null)).isInstanceOf(JobNotFoundException.class);
        assertThatThrownBy(() -> store.cancel("video_missing")).isInstanceOf(JobNotFoundException.class);
    }

    @Test
    void requestCancelFlagsOnlyRunningJobs() {
        String id = store.create(video("u", 0)).id();
        assertThat(store.requestCancel(id)).isFalse();
        store.claimNext("w");
        assertThat(store.requestCancel(id)).isTrue();
        assertThat(store.find(id).orElseThrow().cancelRequested()).isTrue();
        assertThat(store.requestCancel(id)).isTrue();
        assertThat(eventTypes(id)).containsExactly("queued", "started", "cancel_requested");
        assertThat(store.cancel(id).status()).isEqualTo(JobStatus.CANCELLED);
        assertThat(store.requestCancel(id)).isFalse();
        assertThat(store.requestCancel("video_missing")).isFalse();
    }

    @Test
    void deleteRemovesTheJobItsEventsAndCheckpoint() throws Exception {
        String id = store.create(video("u", 0)).id();
        String other = store.create(video("u", 0)).id();
        store.appendEvent(id, "note", "{}");
        store.saveCheckpoint(id, 2, new byte[]{1, 2});
        assertThat(store.delete(id)).isTrue();
        assertThat(store.find(id)).isEmpty();
        assertThat(store.events(id, 0)).isEmpty();
        assertThat(store.checkpoint(id)).isEmpty();
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
            for (String table : List.of("job_events", "job_checkpoints")) {
                var rs = st.executeQuery("SELECT COUNT(*) FROM " + table + " WHERE job_id = '" + id + "'");
                rs.next();
                assertThat(rs.getLong(1)).as(table).isZero();
            }
        }
        assertThat(store.delete(id)).isFalse();
        assertThat(store.find(other)).isPresent();
        assertThat(store.events(other, 0)).hasSize(1);
    }

    // ------------------------------------------------------------------ webhook catch-up

    static NewJob hooked(String owner) {
        return new NewJob(JobKind.VIDEO, owner, 0, "{\"prompt\":\"a cat\"}", null, null,
                "{\"url\":\"http://127.0.0.1/hook\"}", null, null);
    }

    static List<String> keys(List<JobEvent> events) {
        return events.stream().map(e -> e.jobId() + "#" + e.seq() + ":" + e.type()).toList();
    }

    @Test
    void webhookEventsSinceReadsTheRecentWebhookEventsOfJobsWithAWebhook() {
        MovableClock clock = new MovableClock(Instant.now().truncatedTo(ChronoUnit.MICROS));
        JdbcJobStore s = new JdbcJobStore(dataSource, clock, Duration.ofMinutes(1));
        toClose.add(s);
        String old = s.create(hooked("u")).id();                  // #1 queued, before the window
        s.appendEvent(old, "progress", "{\"step\":1}");           // #2, before the window
        clock.advance(Duration.ofHours(1));
        Instant since = clock.instant();
        s.appendEvent(old, "progress", "{\"step\":2}");           // #3, at the window's start: in
        s.appendEvent(old, "notes", "{}");                          // #4, a type no webhook gets
        s.appendEvent(old, "my_own_type", "{}");                    // #5, not an event type at all
        String plain = s.create(video("u", 0)).id();                // no webhook: none of its events
        s.appendEvent(plain, "progress", "{\"step\":1}");
        clock.advance(Duration.ofSeconds(1));
        String second = s.create(hooked("v")).id();                 // #1 queued
        assertThat(s.claimNext("w")).map(Job::id).contains(old);    // old #6 started
        s.appendEvent(old, "preview", "{\"frame\":0}");           // old #7
        assertThat(s.complete(old, null).status()).isEqualTo(JobStatus.COMPLETED); // old #8 completed

        List<String> expected = new ArrayList<>();
        List<String> oldKeys = List.of(old + "#3:progress", old + "#6:started", old + "#7:preview", old + "#8:completed");
        List<String> secondKeys = List.of(second + "#1:queued");
        if (old.compareTo(second) < 0) {
            expected.addAll(oldKeys);
            expected.addAll(secondKeys);
        } else {
            expected.addAll(secondKeys);
            expected.addAll(oldKeys);
        }
        List<JobEvent> all = s.webhookEventsSince(since, null, 100);
        assertThat(keys(all)).as("ordered by job id, then seq").containsExactlyElementsOf(expected);
        assertThat(all).filteredOn(e -> e.jobId().equals(old) && e.seq() == 7).singleElement()
                .satisfies(e -> assertThat(e.dataJson()).isEqualTo("{\"frame\":0}"))
                .satisfies(e -> assertThat(e.at()).isAfterOrEqualTo(since.plusSeconds(1)));
        assertThat(s.events(old, 0)).containsAll(all.stream().filter(e -> e.jobId().equals(old)).toList());

        // page by page, each after the last of the previous page
        List<JobEvent> paged = new ArrayList<>();
        JobEvent after = null;
        while (true) {
            List<JobEvent> page = s.webhookEventsSince(since, after, 2);
            assertThat(page.size()).isLessThanOrEqualTo(2);
            paged.addAll(page);
            if (page.size() < 2) break;
            after = page.getLast();
        }
        assertThat(paged).isEqualTo(all);

        assertThat(keys(s.webhookEventsSince(since.minus(Duration.ofHours(1)), null, 100)))
                .as("a longer window reaches the older events").startsWith(expected.getFirst().startsWith(old)
                        ? new String[]{old + "#1:queued", old + "#2:progress", old + "#3:progress"}
                        : new String[]{second + "#1:queued", old + "#1:queued", old + "#2:progress"});
        assertThat(s.webhookEventsSince(clock.instant().plusSeconds(1), null, 100)).isEmpty();
        assertThatThrownBy(() -> s.webhookEventsSince(since, null, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("limit");
    }

    // ------------------------------------------------------------------ counts

    @Test
    void countsActiveJobsPerOwnerAndTheQueue() {
        String a1 = store.create(video("alice", 9)).id();
        store.create(video("alice", 0));
        String a3 = store.create(video("alice", 0)).id();
        store.create(video("bob", 0));
        assertThat(store.countActive("alice")).isEqualTo(3);
        assertThat(store.countActive("bob")).isEqualTo(1);
        assertThat(store.countActive("carol")).isZero();
        assertThat(store.queueDepth()).isEqualTo(4);

        assertThat(store.claimNext("w").orElseThrow().id()).isEqualTo(a1);
        assertThat(store.countActive("alice")).isEqualTo(3);
        assertThat(store.queueDepth()).isEqualTo(3);
        store.complete(a1, null);
        store.cancel(a3);
        assertThat(store.countActive("alice")).isEqualTo(1);
        assertThat(store.queueDepth()).isEqualTo(2);
    }

    // ------------------------------------------------------------------ restart recovery

    static final class MovableClock extends Clock {
        final AtomicReference<Instant> now;

        MovableClock(Instant start) {
            now = new AtomicReference<>(start);
        }

        void advance(Duration d) {
            now.updateAndGet(t -> t.plus(d));
        }

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now.get();
        }
    }

    /**
     * Five video jobs on a store with a one-minute worker timeout and a clock the test moves: one claimed by each of
     * w-dead, w-alive and w-me, one claimed by w-dead and then cancelled, one still queued.
     */
    record ThreeWorkers(MovableClock clock, JdbcJobStore s, String ofDead, String ofAlive, String ofMine, String cancelledOfDead,
                        String stillQueued) {}

    ThreeWorkers threeWorkers() {
        MovableClock clock = new MovableClock(Instant.now().truncatedTo(ChronoUnit.MICROS));
        JdbcJobStore s = new JdbcJobStore(dataSource, clock, Duration.ofMinutes(1));
        toClose.add(s);
        String ofDead = s.create(video("u", 40)).id();
        String ofAlive = s.create(video("u", 30)).id();
        String ofMine = s.create(video("u", 20)).id();
        String cancelledOfDead = s.create(video("u", 10)).id();
        String stillQueued = s.create(video("u", 0)).id();
        assertThat(s.claimNext("w-dead").orElseThrow().id()).isEqualTo(ofDead);
        assertThat(s.claimNext("w-alive").orElseThrow().id()).isEqualTo(ofAlive);
        assertThat(s.claimNext("w-me").orElseThrow().id()).isEqualTo(ofMine);
        assertThat(s.claimNext("w-dead").orElseThrow().id()).isEqualTo(cancelledOfDead);
        s.requestCancel(cancelledOfDead);
        return new ThreeWorkers(clock, s, ofDead, ofAlive, ofMine, cancelledOfDead, stillQueued);
    }

    @Test
    void requeueInterruptedReturnsThisWorkersAndDeadWorkersJobs() {
        ThreeWorkers w = threeWorkers();
        MovableClock clock = w.clock();
        JdbcJobStore s = w.s();
        String ofDead = w.ofDead(), ofAlive = w.ofAlive(), ofMine = w.ofMine(), cancelledOfDead = w.cancelledOfDead(),
                stillQueued = w.stillQueued();

        clock.advance(Duration.ofMinutes(2));
        s.heartbeat("w-alive");

        assertThat(s.requeueInterrupted("w-me")).isEqualTo(2);
        for (String id : List.of(ofDead, ofMine)) {
            Job j = s.find(id).orElseThrow();
            assertThat(j.status()).isEqualTo(JobStatus.QUEUED);
            assertThat(j.workerId()).isNull();
            assertThat(j.startedAt()).isNull();
            assertThat(s.events(id, 0).getLast().type()).isEqualTo("requeued");
        }
        assertThat(s.find(ofAlive).orElseThrow().status()).isEqualTo(JobStatus.IN_PROGRESS);
        assertThat(s.find(cancelledOfDead).orElseThrow().status()).isEqualTo(JobStatus.CANCELLED);
        assertThat(s.events(cancelledOfDead, 0).getLast().type()).isEqualTo("cancelled");
        assertThat(s.queuePosition(ofDead)).isZero();
        assertThat(s.queuePosition(stillQueued)).isEqualTo(2);

        assertThat(s.requeueInterrupted("w-me")).isZero();
        Job again = s.claimNext("w-me").orElseThrow();
        assertThat(again.id()).isEqualTo(ofDead);
        assertThat(s.events(ofDead, 0)).extracting(JobEvent::type)
                .containsExactly("queued", "started", "requeued", "started");
        // a worker that keeps reporting progress stays alive
        clock.advance(Duration.ofSeconds(50));
        s.updateProgress(again.id(), 10, "denoise", 1, 4);
        clock.advance(Duration.ofSeconds(50));
        assertThat(s.requeueInterrupted("w-other")).isEqualTo(1); // w-alive went silent, w-me did not
        assertThat(s.find(ofAlive).orElseThrow().status()).isEqualTo(JobStatus.QUEUED);
        assertThat(s.find(ofDead).orElseThrow().status()).isEqualTo(JobStatus.IN_PROGRESS);
    }

    @Test
    void requeueAbandonedTakesOnlyOtherDeadWorkersJobs() {
        ThreeWorkers w = threeWorkers();
        MovableClock clock = w.clock();
        JdbcJobStore s = w.s();
        assertThat(s.workerTimeout()).isEqualTo(Duration.ofMinutes(1));
        String ofDead = w.ofDead(), ofAlive = w.ofAlive(), ofMine = w.ofMine(), cancelledOfDead = w.cancelledOfDead(),
                stillQueued = w.stillQueued();

        clock.advance(Duration.ofSeconds(59));
        assertThat(s.requeueAbandoned("w-me")).as("nobody is silent for a whole minute yet").isZero();
        assertThat(s.find(ofDead).orElseThrow().status()).isEqualTo(JobStatus.IN_PROGRESS);

        clock.advance(Duration.ofSeconds(61));
        s.heartbeat("w-alive");
        // w-me is as silent as w-dead, but its own job may still be encoding: only the others' jobs go back
        assertThat(s.requeueAbandoned("w-me")).isEqualTo(1);
        Job requeued = s.find(ofDead).orElseThrow();
        assertThat(requeued.status()).isEqualTo(JobStatus.QUEUED);
        assertThat(requeued.workerId()).isNull();
        assertThat(requeued.startedAt()).isNull();
        assertThat(s.events(ofDead, 0)).extracting(JobEvent::type).containsExactly("queued", "started", "requeued");
        assertThat(s.events(ofDead, 0).getLast().dataJson()).contains("w-dead");
        Job mine = s.find(ofMine).orElseThrow();
        assertThat(mine.status()).isEqualTo(JobStatus.IN_PROGRESS);
        assertThat(mine.workerId()).isEqualTo("w-me");
        assertThat(s.find(ofAlive).orElseThrow().status()).isEqualTo(JobStatus.IN_PROGRESS);
        assertThat(s.find(cancelledOfDead).orElseThrow().status()).isEqualTo(JobStatus.CANCELLED);
        assertThat(s.events(cancelledOfDead, 0).getLast().type()).isEqualTo("cancelled");
        assertThat(s.queuePosition(ofDead)).isZero();
        assertThat(s.queuePosition(stillQueued)).isEqualTo(1);

        // the reaper's call was its heartbeat: another worker finds w-me alive, and nothing is requeued twice
        assertThat(s.requeueAbandoned("w-other")).isZero();
        assertThat(s.find(ofMine).orElseThrow().status()).isEqualTo(JobStatus.IN_PROGRESS);
        assertThat(s.claimNext("w-other").orElseThrow().id()).isEqualTo(ofDead);
        assertThat(s.events(ofDead, 0)).extracting(JobEvent::type)
                .containsExactly("queued", "started", "requeued", "started");

        // a minute later w-me and w-alive went silent; w-other, which keeps reporting progress, reaps both
        clock.advance(Duration.ofSeconds(50));
        s.updateProgress(ofDead, 10, "denoise", 1, 4);
        clock.advance(Duration.ofSeconds(20));
        assertThat(s.requeueAbandoned("w-other")).isEqualTo(2);
        assertThat(s.find(ofMine).orElseThrow().status()).isEqualTo(JobStatus.QUEUED);
        assertThat(s.find(ofAlive).orElseThrow().status()).isEqualTo(JobStatus.QUEUED);
        assertThat(s.find(ofDead).orElseThrow().status()).isEqualTo(JobStatus.IN_PROGRESS);
        assertThat(s.find(ofDead).orElseThrow().workerId()).isEqualTo("w-other");
    }

    // ------------------------------------------------------------------ checkpoints

    @Test
    void checkpointIsReplacedAndRead() {
        String id = store.create(video("u", 0)).id();
        assertThat(store.checkpoint(id)).isEmpty();
        store.saveCheckpoint(id, 3, new byte[]{1, 2, 3});
        Checkpoint first = store.checkpoint(id).orElseThrow();
        assertThat(first.jobId()).isEqualTo(id);
        assertThat(first.step()).isEqualTo(3);
        assertThat(first.state()).containsExactly(1, 2, 3);

        byte[] big = new byte[3 * 1024 * 1024];
        new Random(7).nextBytes(big);
        store.saveCheckpoint(id, 7, big);
        Checkpoint second = store.checkpoint(id).orElseThrow();
        assertThat(second.step()).isEqualTo(7);
        assertThat(second.state()).isEqualTo(big);
        assertThat(second.at()).isAfter(first.at());

        assertThatThrownBy(() -> store.saveCheckpoint("video_missing", 1, new byte[1]))
                .isInstanceOf(JobNotFoundException.class);
        assertThat(store.checkpoint("video_missing")).isEmpty();
    }

    // ------------------------------------------------------------------ subscriptions

    static List<JobEvent> take(BlockingQueue<JobEvent> q, String jobId, int n) throws InterruptedException {
        List<JobEvent> out = new ArrayList<>();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (out.size() < n && System.nanoTime() < deadline) {
            JobEvent e = q.poll(200, TimeUnit.MILLISECONDS);
            if (e != null && e.jobId().equals(jobId)) out.add(e);
        }
        return out;
    }

    @Test
    void subscribersSeeEveryAppendedEvent() throws Exception {
        BlockingQueue<JobEvent> seen = new LinkedBlockingQueue<>();
        AutoCloseable sub = store.subscribe(seen::add);
        String id = store.create(video("u", 0)).id();
        store.claimNext("w");
        store.appendEvent(id, "progress", "{\"step\":1}");
        store.complete(id, null);

        List<JobEvent> got = take(seen, id, 4);
        assertThat(got).extracting(JobEvent::type).containsExactly("queued", "started", "progress", "completed");
        assertThat(got).extracting(JobEvent::seq).containsExactly(1L, 2L, 3L, 4L);
        assertThat(got).isEqualTo(store.events(id, 0));

        sub.close();
        store.appendEvent(id, "after", null);
        assertThat(seen.poll(700, TimeUnit.MILLISECONDS)).isNull();
    }

    @Test
    void aFailingSubscriberDoesNotStopOthers() throws Exception {
        BlockingQueue<JobEvent> seen = new LinkedBlockingQueue<>();
        toClose.add(store.subscribe(e -> {
            throw new IllegalStateException("listener bug");
        }));
        toClose.add(store.subscribe(seen::add));
        String id = store.create(video("u", 0)).id();
        store.appendEvent(id, "x", null);
        assertThat(take(seen, id, 2)).extracting(JobEvent::seq).containsExactly(1L, 2L);
    }

    @Test
    void subscribersOfAnotherStoreSeeEventsThroughTheDatabase() throws Exception {
        assumeTrue(sharesEventsAcrossStores(), "events cross stores only through PostgreSQL LISTEN/NOTIFY");
        JdbcJobStore other = new JdbcJobStore(secondDataSource());
        toClose.add(other);
        BlockingQueue<JobEvent> seen = new LinkedBlockingQueue<>();
        toClose.add(other.subscribe(seen::add));

        String id = store.create(video("u", 0)).id();
        store.claimNext("w");
        JobEvent progress = store.appendEvent(id, "progress", "{\"step\":2,\"of\":4}");
        List<JobEvent> got = take(seen, id, 3);
        assertThat(got).extracting(JobEvent::type).containsExactly("queued", "started", "progress");
        assertThat(got.getLast()).isEqualTo(progress);

        // and the other way round
        BlockingQueue<JobEvent> here = new LinkedBlockingQueue<>();
        toClose.add(store.subscribe(here::add));
        other.requestCancel(id);
        assertThat(take(here, id, 1)).extracting(JobEvent::type).containsExactly("cancel_requested");
    }
}
