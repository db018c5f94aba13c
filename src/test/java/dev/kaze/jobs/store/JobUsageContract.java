package dev.kaze.jobs.store;

import dev.kaze.jobs.Job;
import dev.kaze.jobs.JobKind;
import dev.kaze.jobs.JobNotFoundException;
import dev.kaze.jobs.JobUsage;
import dev.kaze.jobs.NewJob;
import dev.kaze.jobs.OwnerUsage;
import dev.kaze.jobs.store.JobStoreContract.MovableClock;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** The job store's usage accounting on each database (subclasses give H2 or PostgreSQL). */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class JobUsageContract {
    static final Instant T0 = Instant.parse("2026-03-01T10:00:00Z");

    DataSource dataSource;
    MovableClock clock;
    JdbcJobStore store;

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
            st.execute("DELETE FROM job_usage");
            st.execute("DELETE FROM jobs");
        }
        clock = new MovableClock(T0);
        store = new JdbcJobStore(dataSource, clock, Duration.ofMinutes(10));
    }

    Job job(String owner, JobKind kind) {
        return store.create(new NewJob(kind, owner, 0, "{\"prompt\":\"x\"}", null, null, null, null, null));
    }

    static Map<String, Double> stages(Object... nameSeconds) {
        Map<String, Double> m = new LinkedHashMap<>();
        for (int i = 0; i < nameSeconds.length; i += 2) m.put((String) nameSeconds[i], ((Number) nameSeconds[i + 1]).doubleValue());
        return m;
    }

    @Test
    void aJobsUsageIsStoredAsRecordedAndARunAfterAResumeAddsToIt() {
        Job j = job("alice", JobKind.VIDEO);
        assertThat(store.usage(j.id())).isEmpty();
        JobUsage first = new JobUsage(stages("text", 0.5, "denoise", 10.25), 1_000L, JobUsage.CUDA_ALLOCATOR, "wan2.1-t2v-14b",
                Map.of("ghibli", "ab".repeat(32)));
        store.recordUsage(j.id(), first);
        assertThat(store.usage(j.id())).contains(first);
        store.recordUsage(j.id(), new JobUsage(stages("denoise", 4.75, "decode", 2.0, "encode", 1.0), 800L,
                JobUsage.CUDA_ALLOCATOR, "wan2.1-t2v-14b", Map.of("ghibli", "ab".repeat(32))));
        JobUsage both = store.usage(j.id()).orElseThrow();
        assertThat(both.stageSeconds()).containsExactly(Map.entry("text", 0.5), Map.entry("denoise", 15.0),
                Map.entry("decode", 2.0), Map.entry("encode", 1.0));
        assertThat(both.deviceSeconds()).isEqualTo(18.5);
        assertThat(both.peakMemoryBytes()).isEqualTo(1_000L);
        assertThat(both.loras()).containsEntry("ghibli", "ab".repeat(32));
    }

    @Test
    void anUnknownPeakStaysNullAndAnUnknownJobIsRefused() {
        Job j = job("alice", JobKind.TRAINING);
        JobUsage u = new JobUsage(stages("prepare", 1, "train", 2), null, null, "m", Map.of());
        store.recordUsage(j.id(), u);
        assertThat(store.usage(j.id())).contains(u);
        assertThatThrownBy(() -> store.recordUsage("vid_missing", u)).isInstanceOf(JobNotFoundException.class);
    }

    @Test
    void sumsPerOwnerOverAHalfOpenRangeAndOutlivesDeletedJobs() {
        Job a1 = job("alice", JobKind.VIDEO), a2 = job("alice", JobKind.TRAINING), b1 = job("bob", JobKind.VIDEO);
        store.recordUsage(a1.id(), new JobUsage(stages("text", 1, "denoise", 9), 5L, JobUsage.PROCESS_RSS, "m", Map.of()));
        clock.advance(Duration.ofHours(1));
        store.recordUsage(a2.id(), new JobUsage(stages("train", 100, "save", 2.5), null, null, "m", Map.of()));
        store.recordUsage(b1.id(), new JobUsage(stages("denoise", 7), null, null, "m", Map.of()));
        clock.advance(Duration.ofHours(1));
        Job late = job("alice", JobKind.VIDEO);
        store.recordUsage(late.id(), new JobUsage(stages("denoise", 1000), null, null, "m", Map.of()));
        store.delete(a1.id());

        Instant end = T0.plus(Duration.ofHours(2)); // exclusive: the late job's usage is stamped at it
        List<OwnerUsage> all = store.usageByOwner(null, T0, end);
        assertThat(all).extracting(OwnerUsage::owner).containsExactly("alice", "bob");
        OwnerUsage alice = all.getFirst();
        assertThat(alice.jobs()).isEqualTo(2);
        assertThat(alice.deviceSeconds()).isCloseTo(112.5, within(1e-9));
        assertThat(alice.stageSeconds()).containsEntry("denoise", 9.0).containsEntry("train", 100.0).containsEntry("save", 2.5);
        assertThat(store.usageByOwner("bob", T0, end)).singleElement()
                .satisfies(b -> assertThat(b.deviceSeconds()).isEqualTo(7.0));
        assertThat(store.usageByOwner("alice", T0.plusSeconds(1), end)).singleElement()
                .satisfies(a -> assertThat(a.deviceSeconds()).isEqualTo(102.5));
        assertThat(store.usageByOwner("carol", T0, end)).isEmpty();
        assertThatThrownBy(() -> store.usageByOwner(null, end, T0)).isInstanceOf(IllegalArgumentException.class);
    }
}
