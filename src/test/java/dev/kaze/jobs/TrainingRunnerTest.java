package dev.kaze.jobs;

import com.zaxxer.hikari.HikariDataSource;
import dev.kaze.jobs.store.H2JobStoreTest;
import dev.kaze.jobs.store.JdbcJobStore;
import dev.kaze.jobs.store.JobSchema;
import dev.kaze.json.Json;
import dev.kaze.pipeline.LoraCatalog;
import dev.kaze.pipeline.PreviewModel;
import dev.kaze.storage.DiskStore;
import dev.kaze.pipeline.WanModel;
import dev.kaze.pipeline.WanPipeline;
import dev.kaze.tensor.SafetensorsFile;
import dev.kaze.training.TestDatasets;
import dev.kaze.training.TrainingSpec;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The device worker's side of a training: a run cut off by a shutdown stays in progress with its
 * state saved, and when it is claimed again after the restart it continues from that state and ends
 * with the same LoRA as a run that was never interrupted.
 */
class TrainingRunnerTest {
    @TempDir static Path tmp;
    static HikariDataSource pool;
    static JdbcJobStore store;
    static JobQueue queue;
    static WanModel model;
    static WanPipeline pipeline;

    @BeforeAll
    static void setUp() throws Exception {
        pool = H2JobStoreTest.pool("jdbc:h2:mem:runner;DB_CLOSE_DELAY=-1", "runner");
        JobSchema.migrate(pool, null);
        store = new JdbcJobStore(pool);
        LoraCatalog catalog = new LoraCatalog(tmp.resolve("loras"));
        queue = new JobQueue(store, new ModelInfo(PreviewModel.ID, true, catalog, List.of()), new DiskStore(tmp.resolve("data")), tmp.resolve("data"), 100, 100, Map.of());
        TestDatasets.write(tmp.resolve("dataset"), true);
        model = WanModel.preview(catalog.directory(), new Device(torch.DeviceType.CPU));
        pipeline = new WanPipeline(model);
    }

    @AfterAll
    static void tearDown() throws Exception {
        pipeline.close();
        model.close();
        store.close();
        pool.close();
    }

    static Job submit(String loraName) throws Exception {
        Path dir = tmp.resolve("dataset").toRealPath();
        var args = Json.MAPPER.readTree("{\"network_dim\":4,\"network_alpha\":4,\"learning_rate\":0.01,"
                + "\"max_train_steps\":12,\"seed\":5,\"output_name\":\"r\"}");
        TrainingSpec spec = new TrainingSpec(dir, dir, false, "dataset.toml", TestDatasets.TOML, args, loraName, false, null, null);
        return queue.enqueue(new NewJob(JobKind.TRAINING, "alice", 0, "{}", spec.toJson().toString(), null, null, null, null));
    }

    /** Whether the event is the job's progress at that training step. */
    static boolean trainStep(JobEvent e, String jobId, int step) {
        return e.jobId().equals(jobId) && e.type().equals("progress") && e.dataJson().contains("\"step\":" + step + ",")
                && e.dataJson().contains("\"stage\":\"train\"");
    }

    static Job claim(String id) {
        Job job = store.claimNext("worker-1").orElseThrow();
        assertThat(job.id()).isEqualTo(id);
        return job;
    }

    @Test
    void aRunCutOffByAShutdownContinuesFromItsStateAfterTheRestart() throws Exception {
        Job straight = submit("straight");
        assertThat(new TrainingRunner(queue, () -> true).run(pipeline, claim(straight.id())).join()).isEqualTo(JobOutcome.COMPLETED);
        assertThat(store.find(straight.id()).orElseThrow().status()).isEqualTo(JobStatus.COMPLETED);

        Job cut = submit("cut");
        AtomicBoolean running = new AtomicBoolean(true);
        // the worker is told to stop while step 5 runs: the run saves its state after it and leaves the job in progress
        AutoCloseable watch = store.subscribe(e -> {
            if (trainStep(e, cut.id(), 5)) running.set(false);
        });
        assertThat(new TrainingRunner(queue, running::get).run(pipeline, claim(cut.id())).join()).isEqualTo(JobOutcome.INTERRUPTED);
        watch.close();
        assertThat(store.find(cut.id()).orElseThrow().status()).isEqualTo(JobStatus.IN_PROGRESS);
        assertThat(TrainingRunner.newestState(TrainingRunner.outputDir(queue.jobDir(cut.id())))).isPresent();

        // the restart: the interrupted job is requeued, claimed again, and resumes
        assertThat(store.requeueInterrupted("worker-1")).isEqualTo(1);
        assertThat(new TrainingRunner(queue, () -> true).run(pipeline, claim(cut.id())).join()).isEqualTo(JobOutcome.COMPLETED);
        assertThat(store.events(cut.id(), 0)).anyMatch(e -> e.type().equals("resumed") && e.dataJson().contains("\"from_step\":"));
        long trainSteps = store.events(cut.id(), 0).stream()
                .filter(e -> e.type().equals("progress") && e.dataJson().contains("\"stage\":\"train\"")).count();
        assertThat(trainSteps).as("steps run over both attempts").isLessThan(12 + 12);

        Path a = TrainingRunner.outputDir(queue.jobDir(straight.id())).resolve("r.safetensors");
        Path b = TrainingRunner.outputDir(queue.jobDir(cut.id())).resolve("r.safetensors");
        try (SafetensorsFile fa = SafetensorsFile.open(a); SafetensorsFile fb = SafetensorsFile.open(b)) {
            assertThat(fb.entries().keySet()).isEqualTo(fa.entries().keySet());
            for (String k : fa.entries().keySet())
                assertThat(fb.bytes(k).toArray(ValueLayout.JAVA_BYTE)).as(k).isEqualTo(fa.bytes(k).toArray(ValueLayout.JAVA_BYTE));
        }
        assertThat(queue.model().loras().has("straight")).isTrue();
        assertThat(queue.model().loras().has("cut")).isTrue();
    }

    @Test
    void theNewestReadableStateIsChosen() throws Exception {
        Path out = Files.createDirectories(tmp.resolve("states"));
        Files.createDirectories(out.resolve("x-step00000099-state"));   // cut off while written: unreadable, skipped
        assertThat(TrainingRunner.newestState(out)).isEmpty();
        assertThat(TrainingRunner.newestState(tmp.resolve("nowhere"))).isEmpty();
    }
}
