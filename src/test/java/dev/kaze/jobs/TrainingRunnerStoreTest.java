package dev.kaze.jobs;

import com.zaxxer.hikari.HikariDataSource;
import dev.kaze.jobs.store.H2JobStoreTest;
import dev.kaze.jobs.store.JdbcJobStore;
import dev.kaze.jobs.store.JobSchema;
import dev.kaze.json.Json;
import dev.kaze.pipeline.LoraCatalog;
import dev.kaze.pipeline.PreviewModel;
import dev.kaze.pipeline.WanModel;
import dev.kaze.pipeline.WanPipeline;
import dev.kaze.storage.FileStore;
import dev.kaze.storage.S3TestServer;
import dev.kaze.tensor.SafetensorsFile;
import dev.kaze.training.TestDatasets;
import dev.kaze.training.TrainingSpec;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.services.s3.S3Client;

import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Workers on machines that share only the bucket and the job store: each worker here has its own empty data
 * directory. A worker trains from a dataset that exists only in the bucket and leaves the run's files there; a run cut
 * off on one worker continues on another from the state in the bucket; a training resuming a cancelled one fetches that
 * run's state from the bucket. The objects are checked with a plain S3 client, not through Kaze's store.
 */
class TrainingRunnerStoreTest {
    static final String PREFIX = "runner-store";
    @TempDir static Path tmp;
    static S3TestServer server;
    static S3Client client;
    static FileStore bucket;
    static HikariDataSource pool;
    static JdbcJobStore store;
    static LoraCatalog catalog;
    static WanModel model;
    static WanPipeline pipeline;
    static int workers;

    @BeforeAll
    static void setUp() throws Exception {
        server = S3TestServer.start("kaze-training");
        client = server.settings(PREFIX).openClient();
        bucket = server.settings(PREFIX).store(client);
        pool = H2JobStoreTest.pool("jdbc:h2:mem:runnerstore;DB_CLOSE_DELAY=-1", "runnerstore");
        JobSchema.migrate(pool, null);
        store = new JdbcJobStore(pool);
        catalog = new LoraCatalog(tmp.resolve("loras"));
        model = WanModel.preview(catalog.directory(), new Device(torch.DeviceType.CPU));
        pipeline = new WanPipeline(model);
        // the uploaded dataset: in the bucket only (the API replica that unpacked it removed its copy)
        Path src = tmp.resolve("upload-src");
        TestDatasets.write(src, true);
        try (Stream<Path> s = Files.walk(src)) {
            for (Path p : s.filter(Files::isRegularFile).toList())
                bucket.put("datasets/tok/" + src.relativize(p).toString().replace('\\', '/'), p);
        }
        JobQueue.deleteFiles(src);
    }

    @AfterAll
    static void tearDown() throws Exception {
        pipeline.close();
        model.close();
        store.close();
        pool.close();
        client.close();
        server.close();
    }

    /** A worker on its own machine: an empty data directory, the shared bucket and job store. */
    static JobQueue worker() {
        return new JobQueue(store, new ModelInfo(PreviewModel.ID, true, catalog, List.of()), bucket,
                tmp.resolve("worker-" + ++workers), 100, 100, Map.of());
    }

    static TrainingSpec spec(String loraName) throws Exception {
        var args = Json.MAPPER.readTree("{\"network_dim\":4,\"network_alpha\":4,\"learning_rate\":0.01,"
                + "\"max_train_steps\":12,\"seed\":5,\"output_name\":\"r\",\"save_every_n_steps\":6}");
        Path apiDir = Path.of("/nonexistent-api-host/uploads/tok");   // where the API unpacked it: not on any worker
        return new TrainingSpec(apiDir, apiDir, true, "dataset.toml", TestDatasets.TOML, args, loraName, false, null, "datasets/tok");
    }

    static Job submit(JobQueue queue, TrainingSpec spec) {
        return queue.enqueue(new NewJob(JobKind.TRAINING, "alice", 0, "{}", spec.toJson().toString(), null, null, null, null));
    }

    static Job claim(String id) {
        Job job = store.claimNext("worker-1").orElseThrow();
        assertThat(job.id()).isEqualTo(id);
        return job;
    }

    /** The keys under prefix in the bucket, relative to it, as a plain S3 client lists them. */
    static List<String> objects(String prefix) { return server.keys(PREFIX + "/" + prefix); }

    static byte[] object(String key) { return server.read(PREFIX + "/" + key); }

    /** The LoRA tensors of a stored safetensors file (its metadata, which names times and sessions, left out). */
    static Map<String, byte[]> tensors(String key) throws Exception {
        Path file = Files.createTempFile(tmp, "lora", ".safetensors");
        Files.write(file, object(key));
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            Map<String, byte[]> out = new TreeMap<>();
            for (String k : f.entries().keySet()) out.put(k, f.bytes(k).toArray(ValueLayout.JAVA_BYTE));
            return out;
        }
    }

    @Test
    void workersWithEmptyDisksTrainFromTheBucketAndContinueEachOthersRuns() throws Exception {
        // a straight run on a worker that has nothing on its disk: the dataset comes from the bucket
        JobQueue first = worker();
        Job straight = submit(first, spec("bucket-straight"));
        assertThat(new TrainingRunner(first, () -> true).run(pipeline, claim(straight.id())).join()).isEqualTo(JobOutcome.COMPLETED);
        Job done = store.find(straight.id()).orElseThrow();
        assertThat(done.status()).as(done.errorJson()).isEqualTo(JobStatus.COMPLETED);
        assertThat(objects("jobs/" + straight.id() + "/output/")).contains("r.safetensors", "r-step00000006.safetensors",
                "r.log.jsonl", "r-loss.png");
        assertThat(new String(object("jobs/" + straight.id() + "/output/r.log.jsonl")).lines()).hasSize(12);
        assertThat(catalog.has("bucket-straight")).isTrue();
        assertThat(first.jobDir(straight.id())).as("the worker's scratch copy is gone once the run ended").doesNotExist();
        assertThat(objects("datasets/tok/")).contains("dataset.toml").as("the dataset stays for the job's lifetime");

        // a run cut off by a shutdown on one worker...
        JobQueue second = worker();
        Job cut = submit(second, spec("bucket-cut"));
        // told to stop once step 8 is done: read from the job's row, which the runner writes before it asks (an event
        // listener, on the delivery thread, may hear of step 8 only after step 9 ran)
        BooleanSupplier running = () -> store.find(cut.id()).map(j -> !("train".equals(j.stage()) && j.step() >= 8)).orElseThrow();
        assertThat(new TrainingRunner(second, running).run(pipeline, claim(cut.id())).join()).isEqualTo(JobOutcome.INTERRUPTED);
        assertThat(objects("jobs/" + cut.id() + "/output/")).anyMatch(k -> k.startsWith("r-state/"));
        // ... continues on another that never saw it, from the state in the bucket
        JobQueue third = worker();
        assertThat(store.requeueInterrupted("worker-1")).isEqualTo(1);
        assertThat(new TrainingRunner(third, () -> true).run(pipeline, claim(cut.id())).join()).isEqualTo(JobOutcome.COMPLETED);
        assertThat(store.events(cut.id(), 0)).anyMatch(e -> e.type().equals("resumed") && e.dataJson().contains("\"from_step\":8"));
        assertThat(new String(object("jobs/" + cut.id() + "/output/r.log.jsonl")).lines()).as("the log goes on from the first worker's").hasSize(12);
        assertThat(tensors("jobs/" + cut.id() + "/output/r.safetensors")).containsExactlyEntriesOf(tensors("jobs/" + straight.id() + "/output/r.safetensors"));

        // a cancelled run, resumed as a new training on yet another worker: the state comes from the bucket
        JobQueue fourth = worker();
        Job cancelled = submit(fourth, spec("bucket-cancelled"));
        AutoCloseable cancelAt = store.subscribe(e -> {
            if (TrainingRunnerTest.trainStep(e, cancelled.id(), 4)) fourth.cancel("alice", cancelled.id());
        });
        assertThat(new TrainingRunner(fourth, () -> true).run(pipeline, claim(cancelled.id())).join()).isEqualTo(JobOutcome.CANCELLED);
        cancelAt.close();
        assertThat(TrainingOutput.hasStoredState(bucket, cancelled.id())).isTrue();
        JobQueue fifth = worker();
        Job resumed = submit(fifth, spec("bucket-resumed").resuming(cancelled.id()));
        assertThat(new TrainingRunner(fifth, () -> true).run(pipeline, claim(resumed.id())).join()).isEqualTo(JobOutcome.COMPLETED);
        assertThat(store.events(resumed.id(), 0)).anyMatch(e -> e.type().equals("resumed"));
        assertThat(tensors("jobs/" + resumed.id() + "/output/r.safetensors")).containsExactlyEntriesOf(tensors("jobs/" + straight.id() + "/output/r.safetensors"));
        assertThat(catalog.has("bucket-resumed")).isTrue();
        assertThat(fifth.jobDir(resumed.id())).doesNotExist();
    }

    @Test
    void aDatasetGoneFromTheBucketFailsTheRunAsAnInvalidDataset() throws Exception {
        JobQueue queue = worker();
        Path apiDir = Path.of("/nonexistent-api-host/uploads/gone");
        TrainingSpec gone = new TrainingSpec(apiDir, apiDir, true, "dataset.toml", TestDatasets.TOML, spec("x").args(), "gone", false, null,
                "datasets/gone");
        Job job = submit(queue, gone);
        assertThat(new TrainingRunner(queue, () -> true).run(pipeline, claim(job.id())).join()).isEqualTo(JobOutcome.FAILED);
        String error = store.find(job.id()).orElseThrow().errorJson();
        assertThat(error).contains("invalid-dataset", "no longer in the file store").doesNotContain(tmp.toString());
    }
}
