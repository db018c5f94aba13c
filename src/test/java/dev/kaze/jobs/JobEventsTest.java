package dev.kaze.jobs;

import com.zaxxer.hikari.HikariDataSource;
import dev.kaze.jobs.store.H2JobStoreTest;
import dev.kaze.jobs.store.JdbcJobStore;
import dev.kaze.jobs.store.JobSchema;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** The per-job event stream: replay after a sequence number, then live, no gap, no repeat, ends at the terminal event. */
class JobEventsTest {
    HikariDataSource pool;
    JdbcJobStore store;
    JobEvents events;

    @BeforeEach void open() {
        pool = H2JobStoreTest.pool("jdbc:h2:mem:ev_" + UUID.randomUUID().toString().replace("-", "") + ";DB_CLOSE_DELAY=-1", "events");
        JobSchema.migrate(pool, null);
        store = new JdbcJobStore(pool);
        events = new JobEvents(store);
    }

    @AfterEach void close() throws Exception {
        events.close();
        store.close();
        pool.close();
    }

    Job job() {
        return store.create(new NewJob(JobKind.VIDEO, "alice", 0, "{}", "{}", null, null, null, null));
    }

    @Test
    void replaysAfterASequenceNumberAndEndsAtTheTerminalEvent() {
        Job j = job();
        store.claimNext("w");
        store.appendEvent(j.id(), "progress", "{\"step\":1}");
        store.appendEvent(j.id(), "progress", "{\"step\":2}");
        store.complete(j.id(), null);
        List<JobEvent> all = events.stream(j.id(), 0).collectList().block(Duration.ofSeconds(10));
        List<JobEvent> resumed = events.stream(j.id(), 3).collectList().block(Duration.ofSeconds(10));
        assertThat(all).extracting(JobEvent::type).containsExactly("queued", "started", "progress", "progress", "completed");
        assertThat(resumed).extracting(JobEvent::seq).containsExactly(4L, 5L);
    }

    @Test
    void liveEventsFollowTheHistoryWithoutGapsOrRepeats() throws Exception {
        Job j = job();
        store.claimNext("w");
        var exec = Executors.newSingleThreadExecutor();
        exec.submit(() -> {
            for (int i = 1; i <= 200; i++) store.appendEvent(j.id(), "progress", "{\"step\":" + i + "}");
            store.complete(j.id(), null);
            return null;
        });
        List<JobEvent> got = events.stream(j.id(), 0).collectList().block(Duration.ofSeconds(30));
        exec.shutdown();
        exec.awaitTermination(10, TimeUnit.SECONDS);
        assertThat(got).hasSize(203);
        for (int i = 0; i < got.size(); i++) assertThat(got.get(i).seq()).isEqualTo(i + 1);
        assertThat(got.getLast().type()).isEqualTo("completed");
    }
}
