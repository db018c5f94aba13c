package dev.kaze.jobs;

import dev.kaze.pipeline.GenerateRequest;
import dev.kaze.pipeline.GeneratedVideo;
import dev.kaze.storage.FileStore;
import dev.kaze.video.Mp4Encoder;
import dev.kaze.video.RgbFrames;
import dev.kaze.video.Thumbnail;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * Turns a rendered video into a finished job on its own thread, so the device worker can start the next
 * job meanwhile: encodes the MP4 and the thumbnail in a local scratch directory, stores them and the
 * reproducibility manifest ({@code request.json}: the resolved request, the software version, the frames' and the
 * LoRAs' SHA-256) in the file store under the job's keys ({@link JobQueue#fileKey}), and completes the job.
 */
final class VideoFinisher implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(VideoFinisher.class);
    /** The software version the manifest names. */
    static final String SOFTWARE_VERSION = "kaze-0.1.0";
    static final String VIDEO = "video.mp4", THUMBNAIL = "thumbnail.jpg", MANIFEST = "request.json";
    /** The local directory (inside the job's) where the files are encoded before they are stored. */
    private static final String SCRATCH_PREFIX = ".encode-";

    private final JobQueue queue;
    private final Mp4Encoder encoder;
    private final ExecutorService encoding = Executors.newSingleThreadExecutor(r -> Thread.ofPlatform().name("kaze-encode").daemon().unstarted(r));
    private final Map<String, String> fileHashes = new HashMap<>();

    VideoFinisher(JobQueue queue, Mp4Encoder encoder) {
        this.queue = queue;
        this.encoder = encoder;
    }

    /**
     * Finishes the job on the encoding thread: COMPLETED, or FAILED with an {@code encoding-failed} problem.
     * Completes exceptionally with {@link JobNotFoundException} when the job was deleted meanwhile (its files
     * are removed again).
     */
    CompletableFuture<JobOutcome> finish(Job job, GenerateRequest.Resolved r, GeneratedVideo video, VideoProgress progress,
                                         PeakMemory.Reading peak) {
        return CompletableFuture.supplyAsync(() -> write(job, r, video, progress, peak), encoding);
    }

    private JobOutcome write(Job job, GenerateRequest.Resolved r, GeneratedVideo video, VideoProgress progress, PeakMemory.Reading peak) {
        String id = job.id();
        FileStore files = queue.files();
        Path scratch = null;
        try {
            Path dir = Files.createDirectories(queue.jobDir(id));
            scratch = Files.createTempDirectory(dir, SCRATCH_PREFIX);
            RgbFrames frames = new RgbFrames(video.frames(), video.height(), video.width(), video.fps(), video.rgb());
            Path mp4 = scratch.resolve(VIDEO), jpeg = scratch.resolve(THUMBNAIL);
            encoder.write(frames, mp4);
            Thumbnail.writeJpeg(frames, jpeg);
            Map<String, String> loraHashes = loraHashes(r);
            ObjectNode manifest = manifest(r, video, loraHashes);
            files.put(JobQueue.fileKey(id, VIDEO), mp4);
            files.put(JobQueue.fileKey(id, THUMBNAIL), jpeg);
            files.put(JobQueue.fileKey(id, MANIFEST), manifest.toPrettyString().getBytes(StandardCharsets.UTF_8));
            progress.end();
            queue.store().recordUsage(id, usage(progress, peak, loraHashes));
            queue.store().updateProgress(id, 100, "encode", r.steps(), r.steps());
            queue.store().complete(id, job.resolvedJson());
            return JobOutcome.COMPLETED;
        } catch (JobNotFoundException e) {
            // deleted while it was encoded: remove what was written since
            files.deleteAll(JobQueue.jobPrefix(id));
            JobQueue.deleteFiles(queue.jobDir(id));
            throw e;
        } catch (Exception e) {
            log.warn("job {} failed while encoding: {}", id, e.getMessage(), e);
            queue.store().fail(id, ProblemTypes.failure("encoding-failed", "Encoding failed", 500, e.getMessage()));
            return JobOutcome.FAILED;
        } finally {
            if (scratch != null) deleteScratch(id, scratch);
        }
    }

    /** Removes the scratch directory, and the job's local directory when nothing else is in it (the files went to a bucket). */
    private static void deleteScratch(String id, Path scratch) {
        try {
            JobQueue.deleteFiles(scratch);
            Files.deleteIfExists(scratch.getParent());
        } catch (DirectoryNotEmptyException e) {
            // the job's files are stored in this directory (a local store)
        } catch (IOException | RuntimeException e) {
            log.warn("job {}: could not remove its encoding scratch directory {}: {}", id, scratch, e.getMessage());
        }
    }

    /** What reproduces the video: the resolved request, the software version, and the SHA-256 of the frames and of each LoRA. */
    private ObjectNode manifest(GenerateRequest.Resolved r, GeneratedVideo video, Map<String, String> loraHashes)
            throws NoSuchAlgorithmException {
        ObjectNode manifest = RequestJson.write(r, video.modelId());
        manifest.put("software_version", SOFTWARE_VERSION);
        manifest.put("frames_sha256", HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(video.rgb())));
        ObjectNode hashes = manifest.putObject("lora_sha256");
        loraHashes.forEach(hashes::put);
        return manifest;
    }

    /** Each LoRA of the request by name: the SHA-256 of the file the render used, looked up once for the manifest and the usage. */
    private Map<String, String> loraHashes(GenerateRequest.Resolved r) {
        Map<String, String> loras = new LinkedHashMap<>();
        for (GenerateRequest.LoraRef l : r.loras()) loras.put(l.name(), sha256(queue.model().loras().resolve(l.name())));
        return loras;
    }

    /**
     * The job's usage: the stage times (encode included), the peak memory of the render, the model's identity
     * ({@link ModelIdentity}) and each LoRA's SHA-256, as in the manifest.
     */
    private JobUsage usage(VideoProgress progress, PeakMemory.Reading peak, Map<String, String> loraHashes) {
        return new JobUsage(progress.stageSeconds(), peak.bytes(), peak.source(), queue.model().identity(), loraHashes);
    }

    /**
     * The file's SHA-256, computed once per path, size and modification time: a LoRA replaced under the same name (an
     * upload with replace, a newer object copied from the bucket) is hashed again.
     */
    private synchronized String sha256(Path file) {
        String version;
        try {
            version = file + "@" + Files.size(file) + "@" + Files.getLastModifiedTime(file).toMillis();
        } catch (IOException e) {
            return "unreadable: " + e.getMessage();
        }
        return fileHashes.computeIfAbsent(version, f -> {
            try (DigestInputStream in = new DigestInputStream(Files.newInputStream(file), MessageDigest.getInstance("SHA-256"))) {
                in.transferTo(OutputStream.nullOutputStream());
                return HexFormat.of().formatHex(in.getMessageDigest().digest());
            } catch (IOException | NoSuchAlgorithmException e) {
                return "unreadable: " + e.getMessage();
            }
        });
    }

    /** Lets the videos handed over finish (for at most a minute). */
    @Override public void close() throws InterruptedException {
        encoding.shutdown();
        encoding.awaitTermination(1, TimeUnit.MINUTES);
    }
}
