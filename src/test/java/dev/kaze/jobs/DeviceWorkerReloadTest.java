package dev.kaze.jobs;

import com.zaxxer.hikari.HikariDataSource;
import dev.kaze.jobs.store.H2JobStoreTest;
import dev.kaze.jobs.store.JdbcJobStore;
import dev.kaze.jobs.store.JobSchema;
import dev.kaze.pipeline.GenerateRequest;
import dev.kaze.pipeline.LoraCatalog;
import dev.kaze.pipeline.ModelDirectory;
import dev.kaze.pipeline.PreviewModel;
import dev.kaze.storage.DiskStore;
import dev.kaze.pipeline.WanModel;
import dev.kaze.pipeline.guidance.Guidance;
import dev.kaze.video.Mp4Encoder;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A worker whose model directory is incomplete at start stays up, says what is missing, and loads
 * the model once the files are there (after {@link DeviceWorker#reload()}, or by itself a few seconds
 * later), then runs the job that waited meanwhile. The loader checks the directory as the real one
 * does, then loads the preview model (a real small model, as a complete directory would give).
 */
class DeviceWorkerReloadTest {
    @TempDir Path tmp;
    HikariDataSource pool;
    JdbcJobStore store;
    JobQueue queue;
    DeviceWorker worker;
    final AtomicInteger loads = new AtomicInteger();

    @BeforeEach
    void open() {
        pool = H2JobStoreTest.pool("jdbc:h2:mem:reload_" + UUID.randomUUID().toString().replace("-", "") + ";DB_CLOSE_DELAY=-1", "reload");
        JobSchema.migrate(pool, null);
        store = new JdbcJobStore(pool);
        queue = new JobQueue(store, new ModelInfo(PreviewModel.ID, true, new LoraCatalog(null), List.of()), new DiskStore(tmp.resolve("data")), tmp.resolve("data"), 10, 10, Map.of());
    }

    @AfterEach
    void close() throws Exception {
        if (worker != null) worker.close();
        store.close();
        pool.close();
    }

    DeviceWorker worker(Path modelDir, Duration retry) {
        Supplier<WanModel> loader = () -> {
            loads.incrementAndGet();
            ModelDirectory.scan(modelDir);   // throws IncompleteException, as WanModel.open's scan does
            return WanModel.preview(null, new Device(torch.DeviceType.CPU));
        };
        return new DeviceWorker(queue, loader, new Mp4Encoder(), new JobMetrics(new SimpleMeterRegistry(), store),
                DeviceWorker.Settings.of("w-reload").withIncompleteRetry(retry));
    }

    static void await(String what, Duration limit, BooleanSupplier condition) throws InterruptedException {
        long end = System.nanoTime() + limit.toNanos();
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as(what).isLessThan(end);
            Thread.sleep(20);
        }
    }

    static void writeHuggingFaceLayout(Path root, boolean withVae) throws Exception {
        Files.createDirectories(root.resolve("google/umt5-xxl"));
        for (String f : List.of("config.json", "diffusion_pytorch_model.safetensors", "models_t5_umt5-xxl-enc-bf16.pth",
                "google/umt5-xxl/tokenizer.json")) Files.writeString(root.resolve(f), "x");
        if (withVae) Files.writeString(root.resolve("Wan2.1_VAE.pth"), "x");
    }

    Job submit() {
        GenerateRequest req = new GenerateRequest("a paper boat", null, 32, 32, 5, 16, 2, 5.0, 7L, new Guidance.None(), List.of());
        return queue.submit("alice", queue.resolve(req), 0, "{}", null, null, null, null);
    }

    @Test
    void incompleteDirectoryIsReportedThenLoadedAfterReloadAndTheWaitingJobRuns() throws Exception {
        Path dir = tmp.resolve("model");
        writeHuggingFaceLayout(dir, false);
        worker = worker(dir, Duration.ofMinutes(10));   // no retry by itself within the test: only reload() loads again
        worker.start();
        await("the first load attempt", Duration.ofSeconds(10), () -> worker.loadError() != null);
        assertThat(worker.ready()).isFalse();
        assertThat(worker.loadError()).contains("incomplete").contains("the VAE").contains(dir.toString())
                .doesNotContain("the DiT config");
        assertThatThrownBy(() -> ModelDirectory.scan(dir)).isInstanceOfSatisfying(ModelDirectory.IncompleteException.class,
                e -> assertThat(e.missing()).containsOnlyKeys("vae").extractingByKey("vae").asString()
                        .startsWith("the VAE").contains(dir.toString()));
        Job job = submit();
        Thread.sleep(200);
        assertThat(store.find(job.id()).orElseThrow().status()).isEqualTo(JobStatus.QUEUED);

        assertThat(loads.get()).isEqualTo(1);
        Files.writeString(dir.resolve("Wan2.1_VAE.pth"), "x");
        worker.reload();
        await("ready after reload", Duration.ofSeconds(60), worker::ready);
        assertThat(loads.get()).isEqualTo(2);
        assertThat(worker.loadError()).isNull();
        await("the waiting job completes", Duration.ofSeconds(60),
                () -> store.find(job.id()).orElseThrow().status() == JobStatus.COMPLETED);
    }

    @Test
    void incompleteDirectoryIsRetriedWithoutReload() throws Exception {
        Path dir = tmp.resolve("model");
        worker = worker(dir, Duration.ofMillis(200));
        worker.start();
        await("the first load attempt", Duration.ofSeconds(10), () -> worker.loadError() != null);
        assertThat(worker.loadError()).contains("does not exist");
        await("retried while incomplete", Duration.ofSeconds(10), () -> loads.get() >= 3);
        writeHuggingFaceLayout(dir, true);
        await("ready by polling", Duration.ofSeconds(60), worker::ready);
        assertThat(loads.get()).isGreaterThanOrEqualTo(2);
    }

    @Test
    void aFailureOtherThanMissingFilesWaitsForReload() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        worker = new DeviceWorker(queue, () -> {
            if (calls.incrementAndGet() == 1) throw new IllegalStateException("config.json: not a DiT config");
            return WanModel.preview(null, new Device(torch.DeviceType.CPU));
        }, new Mp4Encoder(), new JobMetrics(new SimpleMeterRegistry(), store),
                DeviceWorker.Settings.of("w-reload").withIncompleteRetry(Duration.ofMillis(100)));
        worker.start();
        await("the first load attempt", Duration.ofSeconds(10), () -> worker.loadError() != null);
        Thread.sleep(1000);
        assertThat(calls.get()).as("a broken file is not reloaded every few seconds").isEqualTo(1);
        assertThat(worker.ready()).isFalse();
        worker.reload();
        await("ready after reload", Duration.ofSeconds(30), worker::ready);
        assertThat(calls.get()).isEqualTo(2);
    }
}
