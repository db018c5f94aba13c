package dev.kaze.jobs;

import com.zaxxer.hikari.HikariDataSource;
import dev.kaze.jobs.store.H2JobStoreTest;
import dev.kaze.jobs.store.JdbcJobStore;
import dev.kaze.jobs.store.JobSchema;
import dev.kaze.pipeline.GenerateRequest;
import dev.kaze.pipeline.LoraCatalog;
import dev.kaze.pipeline.PreviewModel;
import dev.kaze.pipeline.WanModel;
import dev.kaze.pipeline.guidance.Guidance;
import dev.kaze.storage.DiskStore;
import dev.kaze.video.Mp4Encoder;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import static dev.kaze.jobs.DeviceWorkerReloadTest.await;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * A running worker takes over the job of a worker that died mid-render: while the other worker's heartbeat is
 * fresh its job stays with it; once that worker has been silent for the store's worker timeout, the running worker
 * requeues the job by itself (no restart of anything) and completes it.
 */
class DeviceWorkerReaperTest {
    static final Duration TIMEOUT = Duration.ofSeconds(2);

    @TempDir Path tmp;
    HikariDataSource pool;
    JdbcJobStore store;
    JobQueue queue;
    DeviceWorker worker;
    final ScheduledExecutorService beats = Executors.newSingleThreadScheduledExecutor();

    @BeforeEach
    void open() {
        pool = H2JobStoreTest.pool("jdbc:h2:mem:reaper_" + UUID.randomUUID().toString().replace("-", "") + ";DB_CLOSE_DELAY=-1", "reaper");
        JobSchema.migrate(pool, null);
        store = new JdbcJobStore(pool, Clock.systemUTC(), TIMEOUT);
        queue = new JobQueue(store, new ModelInfo(PreviewModel.ID, true, new LoraCatalog(null), List.of()),
                new DiskStore(tmp.resolve("data")), tmp.resolve("data"), 10, 10, Map.of());
    }

    @AfterEach
    void close() throws Exception {
        beats.shutdownNow();
        if (worker != null) worker.close();
        store.close();
        pool.close();
    }

    @Test
    void aRunningWorkerRequeuesAndCompletesTheJobOfAWorkerThatWentSilent() throws Exception {
        GenerateRequest req = new GenerateRequest("a paper boat", null, 32, 32, 5, 16, 2, 5.0, 7L, new Guidance.None(), List.of());
        Job job = queue.submit("alice", queue.resolve(req), 0, "{}", null, null, null, null);
        assertThat(store.claimNext("w-gone").orElseThrow().id()).isEqualTo(job.id());
        var beating = beats.scheduleAtFixedRate(() -> store.heartbeat("w-gone"), 0, 200, TimeUnit.MILLISECONDS);

        worker = new DeviceWorker(queue, () -> WanModel.preview(null, new Device(torch.DeviceType.CPU)), new Mp4Encoder(),
                new JobMetrics(new SimpleMeterRegistry(), store), DeviceWorker.Settings.of("w-reaper"));
        worker.start();
        await("the worker is ready", Duration.ofSeconds(60), worker::ready);
        Thread.sleep(TIMEOUT.multipliedBy(2).toMillis());   // several reaper turns while w-gone is alive
        Job meanwhile = store.find(job.id()).orElseThrow();
        assertThat(meanwhile.status()).as("an alive worker keeps its job").isEqualTo(JobStatus.IN_PROGRESS);
        assertThat(meanwhile.workerId()).isEqualTo("w-gone");

        beating.cancel(false);   // w-gone dies
        await("the reaping worker completes the job", Duration.ofSeconds(60),
                () -> store.find(job.id()).orElseThrow().status() == JobStatus.COMPLETED);
        List<JobEvent> events = store.events(job.id(), 0);
        List<String> types = events.stream().map(JobEvent::type).toList();
        assertThat(types).startsWith("queued", "started", "requeued", "started").endsWith("completed");
        assertThat(events.get(1).dataJson()).contains("w-gone");
        assertThat(events.get(2).dataJson()).contains("w-gone");
        assertThat(events.get(3).dataJson()).contains("w-reaper");
        JobEvent requeued = events.get(2);
        assertThat(Duration.between(events.get(1).at(), requeued.at())).isGreaterThan(TIMEOUT);
        assertThat(store.find(job.id()).orElseThrow().workerId()).isEqualTo("w-reaper");
    }

    @Test
    void aWorkerBusyWithoutProgressForLongerThanTheTimeoutIsNotTakenForDead() throws Exception {
        GenerateRequest req = new GenerateRequest("a paper boat", null, 32, 32, 5, 16, 2, 5.0, 7L, new Guidance.None(), List.of());
        Job job = queue.submit("alice", queue.resolve(req), 0, "{}", null, null, null, null);
        assertThat(store.claimNext("w-slow").orElseThrow().id()).isEqualTo(job.id());   // its job from before a restart
        CountDownLatch loadMayEnd = new CountDownLatch(1);
        worker = new DeviceWorker(queue, () -> {
            try {
                loadMayEnd.await();   // a model load far longer than the worker timeout
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return WanModel.preview(null, new Device(torch.DeviceType.CPU));
        }, new Mp4Encoder(), new JobMetrics(new SimpleMeterRegistry(), store), DeviceWorker.Settings.of("w-slow"));
        worker.start();
        Thread.sleep(TIMEOUT.multipliedBy(2).toMillis());
        assertThat(store.requeueAbandoned("w-other")).as("w-slow's heartbeat goes on while it loads").isZero();
        assertThat(store.find(job.id()).orElseThrow().status()).isEqualTo(JobStatus.IN_PROGRESS);

        loadMayEnd.countDown();   // loaded: it requeues its own interrupted job at start-up and runs it
        await("the job completes", Duration.ofSeconds(60), () -> store.find(job.id()).orElseThrow().status() == JobStatus.COMPLETED);
        assertThat(store.events(job.id(), 0)).extracting(JobEvent::type).startsWith("queued", "started", "requeued", "started");

        DeviceWorker stopped = worker;
        worker = null;
        stopped.close();   // a closed worker beats no more: after the timeout it counts as dead
        store.create(new NewJob(JobKind.VIDEO, "alice", 0, "{}", null, null, null, null, null));
        assertThat(store.claimNext("w-slow")).isPresent();
        Thread.sleep(TIMEOUT.plusMillis(500).toMillis());
        assertThat(store.requeueAbandoned("w-other")).isEqualTo(1);
    }
}
