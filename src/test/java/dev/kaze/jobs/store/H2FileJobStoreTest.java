package dev.kaze.jobs.store;

import dev.kaze.jobs.Job;
import dev.kaze.jobs.JobEvent;
import dev.kaze.jobs.JobStatus;
import com.zaxxer.hikari.HikariDataSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The embedded default (an H2 file) keeps jobs, events and checkpoints across a restart of the process. */
class H2FileJobStoreTest {
    @TempDir
    Path dir;

    @Test
    void jobsSurviveClosingAndReopeningTheDatabaseFile() {
        String url = "jdbc:h2:file:" + dir.resolve("kaze/jobs") + ";AUTO_SERVER=FALSE";
        String queued, running, done;
        byte[] state = {9, 8, 7, 6};

        HikariDataSource first = H2JobStoreTest.pool(url, "h2-file-first");
        try (first; JdbcJobStore store = new JdbcJobStore(first)) {
            JobSchema.migrate(first, null);
            done = store.create(JobStoreContract.video("alice", 0)).id();
            running = store.create(JobStoreContract.keyed("alice", "k", "h")).id();
            queued = store.create(JobStoreContract.video("bob", 0)).id();
            assertThat(store.claimNext("worker-a").orElseThrow().id()).isEqualTo(done);
            store.complete(done, "{\"seed\":42}");
            assertThat(store.claimNext("worker-a").orElseThrow().id()).isEqualTo(running);
            store.updateProgress(running, 30, "denoise", 3, 10);
            store.saveCheckpoint(running, 3, state);
            store.appendEvent(running, "progress", "{\"step\":3}");
        }
        assertThat(dir.resolve("kaze/jobs.mv.db")).exists();

        // a new process: new pool, migrations again (nothing to do), new store
        HikariDataSource second = H2JobStoreTest.pool(url, "h2-file-second");
        try (second; JdbcJobStore store = new JdbcJobStore(second)) {
            JobSchema.migrate(second, null);
            Job completed = store.find(done).orElseThrow();
            assertThat(completed.status()).isEqualTo(JobStatus.COMPLETED);
            assertThat(completed.resolvedJson()).isEqualTo("{\"seed\":42}");
            assertThat(store.find(queued).orElseThrow().status()).isEqualTo(JobStatus.QUEUED);
            Job interrupted = store.find(running).orElseThrow();
            assertThat(interrupted.status()).isEqualTo(JobStatus.IN_PROGRESS);
            assertThat(interrupted.progress()).isEqualTo(30);
            assertThat(store.checkpoint(running).orElseThrow().state()).isEqualTo(state);
            assertThat(store.events(running, 0)).extracting(JobEvent::type)
                    .containsExactly("queued", "started", "progress");
            // the idempotency key still holds
            assertThat(store.create(JobStoreContract.keyed("alice", "k", "h")).id()).isEqualTo(running);

            // the restarted worker puts its interrupted job back in the queue and resumes it from the checkpoint
            assertThat(store.requeueInterrupted("worker-a")).isEqualTo(1);
            Job resumed = store.claimNext("worker-a").orElseThrow();
            assertThat(resumed.id()).isEqualTo(running);
            assertThat(store.checkpoint(running).orElseThrow().step()).isEqualTo(3);
            assertThat(store.events(running, 3)).extracting(JobEvent::type).containsExactly("requeued", "started");
            assertThat(store.list(null, null, null, 10).jobs()).extracting(Job::id)
                    .containsExactlyElementsOf(List.of(queued, running, done));
        }
    }
}
