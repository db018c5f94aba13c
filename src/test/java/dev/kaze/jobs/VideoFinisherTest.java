package dev.kaze.jobs;

import com.zaxxer.hikari.HikariDataSource;
import dev.kaze.jobs.store.H2JobStoreTest;
import dev.kaze.jobs.store.JdbcJobStore;
import dev.kaze.jobs.store.JobSchema;
import dev.kaze.json.Json;
import dev.kaze.pipeline.GenerateRequest;
import dev.kaze.pipeline.GeneratedVideo;
import dev.kaze.pipeline.LoraCatalog;
import dev.kaze.pipeline.PreviewModel;
import dev.kaze.pipeline.guidance.Guidance;
import dev.kaze.storage.DiskStore;
import dev.kaze.storage.FileStore;
import dev.kaze.storage.S3TestServer;
import dev.kaze.storage.StoredFile;
import dev.kaze.video.Mp4Encoder;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.services.s3.S3Client;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The finisher stores a video's MP4, thumbnail and manifest in the file store: in a bucket nothing stays on local
 * disk; on disk the files are where they always were ({@code <data>/jobs/<id>/}); a job deleted while it was encoded
 * leaves no file behind in either.
 */
class VideoFinisherTest {
    static S3TestServer server;
    static S3Client client;
    static final AtomicInteger runs = new AtomicInteger();

    @TempDir Path tmp;
    HikariDataSource pool;
    JdbcJobStore store;

    @BeforeAll static void startServer() throws Exception {
        server = S3TestServer.start("kaze-finisher");
        client = server.client();
    }

    @AfterAll static void stopServer() throws Exception {
        client.close();
        server.close();
    }

    @AfterEach void close() {
        if (store != null) store.close();
        if (pool != null) pool.close();
    }

    JobQueue queue(FileStore files) {
        return queue(files, new LoraCatalog(null));
    }

    JobQueue queue(FileStore files, LoraCatalog loras) {
        pool = H2JobStoreTest.pool("jdbc:h2:mem:finisher_" + UUID.randomUUID().toString().replace("-", "") + ";DB_CLOSE_DELAY=-1", "finisher");
        JobSchema.migrate(pool, null);
        store = new JdbcJobStore(pool);
        return new JobQueue(store, new ModelInfo(PreviewModel.ID, true, loras, List.of()), files, tmp.resolve("data"),
                10, 10, Map.of());
    }

    FileStore bucket() { return server.settings("run-" + runs.incrementAndGet()).store(client); }

    /** Claims the job as a worker would and finishes it with a small gradient video. */
    JobOutcome render(JobQueue queue, Job job) {
        assertThat(store.claimNext("w").orElseThrow().id()).isEqualTo(job.id());
        return finish(queue, job);
    }

    JobOutcome finish(JobQueue queue, Job job) {
        try (VideoFinisher finisher = new VideoFinisher(queue, new Mp4Encoder())) {
            return finish(finisher, job);
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    JobOutcome finish(VideoFinisher finisher, Job job) {
        GenerateRequest.Resolved r = RequestJson.read(job.resolvedJson());
        byte[] rgb = new byte[5 * 32 * 32 * 3];
        for (int i = 0; i < rgb.length; i++) rgb[i] = (byte) (i * 7);
        GeneratedVideo video = new GeneratedVideo(r, PreviewModel.ID, 5, 32, 32, 16, rgb);
        VideoProgress progress = new VideoProgress(store, job.id(), r.steps(), 0, new JobMetrics(new SimpleMeterRegistry(), store));
        return finisher.finish(job, r, video, progress, new PeakMemory.Reading(null, null)).join();
    }

    Job submit(JobQueue queue) {
        return submit(queue, List.of());
    }

    Job submit(JobQueue queue, List<GenerateRequest.LoraRef> loras) {
        GenerateRequest req = new GenerateRequest("a paper boat", null, 32, 32, 5, 16, 2, 5.0, 7L, new Guidance.None(), loras);
        return queue.submit("alice", queue.resolve(req), 0, "{}", null, null, null, null);
    }

    @Test
    void inABucketTheFilesAreObjectsAndNothingStaysOnLocalDisk() throws Exception {
        FileStore files = bucket();
        JobQueue queue = queue(files);
        Job job = submit(queue);
        assertThat(render(queue, job)).isEqualTo(JobOutcome.COMPLETED);
        assertThat(store.find(job.id()).orElseThrow().status()).isEqualTo(JobStatus.COMPLETED);

        String prefix = JobQueue.jobPrefix(job.id());
        assertThat(files.list(prefix)).extracting(StoredFile::key)
                .containsExactly(prefix + "request.json", prefix + "thumbnail.jpg", prefix + "video.mp4");
        byte[] mp4 = files.open(prefix + "video.mp4").readAllBytes();
        assertThat(new String(mp4, 4, 4, StandardCharsets.US_ASCII)).as("an MP4 starts with an ftyp box").isEqualTo("ftyp");
        assertThat(files.open(prefix + "thumbnail.jpg").readAllBytes()).startsWith((byte) 0xFF, (byte) 0xD8);
        assertThat(new String(files.open(prefix + "request.json").readAllBytes(), StandardCharsets.UTF_8))
                .contains("\"seed\" : 7").contains("\"software_version\" : \"" + VideoFinisher.SOFTWARE_VERSION + "\"");
        assertThat(queue.jobDir(job.id())).as("the scratch directory and the job's local directory are gone").doesNotExist();
    }

    @Test
    void onDiskTheFilesAreInTheJobsDirectoryAsBefore() throws Exception {
        Path data = tmp.resolve("data");
        JobQueue queue = queue(new DiskStore(data));
        Job job = submit(queue);
        assertThat(render(queue, job)).isEqualTo(JobOutcome.COMPLETED);
        try (Stream<Path> dir = Files.list(data.resolve("jobs").resolve(job.id()))) {
            assertThat(dir.map(p -> p.getFileName().toString()).sorted().toList())
                    .as("no scratch or temporary file left beside them").containsExactly("request.json", "thumbnail.jpg", "video.mp4");
        }
        assertThat(Files.readString(data.resolve("jobs").resolve(job.id()).resolve("request.json"))).contains("\"seed\" : 7");
    }

    @Test
    void aJobDeletedWhileEncodedLeavesNoObjectBehind() {
        FileStore files = bucket();
        JobQueue queue = queue(files);
        Job job = submit(queue);
        files.put(JobQueue.fileKey(job.id(), "preview.gif"), new byte[]{'G', 'I', 'F'});   // written while it rendered
        store.claimNext("w");
        store.delete(job.id());   // as DELETE does between the render and the encode
        assertThatThrownBy(() -> finish(queue, job)).isInstanceOf(CompletionException.class).hasCauseInstanceOf(JobNotFoundException.class);
        assertThat(files.list(JobQueue.jobPrefix(job.id()))).isEmpty();
        assertThat(queue.jobDir(job.id())).doesNotExist();
    }

    @Test
    void aLoraReplacedUnderItsNameIsHashedAgainForTheNextManifest() throws Exception {
        Path loraDir = Files.createDirectories(tmp.resolve("loras"));
        Path data = tmp.resolve("data");
        JobQueue queue = queue(new DiskStore(data), new LoraCatalog(loraDir));
        List<GenerateRequest.LoraRef> style = List.of(new GenerateRequest.LoraRef("style", 1.0));
        byte[] first = "first weights".getBytes(StandardCharsets.UTF_8), second = "the second, longer weights".getBytes(StandardCharsets.UTF_8);
        String[] hashes = new String[2];
        try (VideoFinisher finisher = new VideoFinisher(queue, new Mp4Encoder())) {   // one per worker, as in the server
            for (int i = 0; i < 2; i++) {
                Files.write(loraDir.resolve("style.safetensors"), i == 0 ? first : second);   // an upload with replace=true
                Job job = submit(queue, style);
                assertThat(store.claimNext("w").orElseThrow().id()).isEqualTo(job.id());
                assertThat(finish(finisher, job)).isEqualTo(JobOutcome.COMPLETED);
                hashes[i] = Json.MAPPER.readTree(Files.readString(data.resolve("jobs").resolve(job.id()).resolve("request.json")))
                        .at("/lora_sha256/style").asString();
            }
        }
        assertThat(hashes[0]).isEqualTo(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(first)));
        assertThat(hashes[1]).isEqualTo(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(second)));
    }
}
