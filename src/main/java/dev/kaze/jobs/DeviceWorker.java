package dev.kaze.jobs;

import dev.kaze.pipeline.CancelledException;
import dev.kaze.pipeline.DenoisingLoop;
import dev.kaze.pipeline.RenderCheckpoint;
import dev.kaze.pipeline.GenerateRequest;
import dev.kaze.pipeline.GeneratedVideo;
import dev.kaze.pipeline.GenerationListener;
import dev.kaze.pipeline.WanModel;
import dev.kaze.pipeline.WanPipeline;
import dev.kaze.video.Mp4Encoder;
import dev.kaze.video.RgbFrames;
import dev.kaze.video.Thumbnail;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The one platform thread that owns libtorch: loads the model, then claims jobs one at a time
 * (priority, then FIFO) and runs them with the model kept resident. MP4 encoding runs on its own
 * thread so the next job can start denoising. A failed job never stops the worker.
 */
public final class DeviceWorker implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(DeviceWorker.class);
    public static final String SOFTWARE_VERSION = "kaze-0.1.0";

    private final JobQueue queue;
    private final Supplier<WanModel> modelLoader;
    private final Mp4Encoder encoder;
    private final String workerId;
    private final ExecutorService encoding = Executors.newSingleThreadExecutor(r -> Thread.ofPlatform().name("kaze-encode").daemon().unstarted(r));
    private final Map<String, String> fileHashes = new HashMap<>();
    private volatile boolean running = true;
    private volatile boolean ready;
    private volatile String loadError;
    private Thread thread;

    private final int checkpointEvery;
    private volatile JobMetrics metrics;

    /** Metrics to record into (optional). */
    public void metrics(JobMetrics metrics) { this.metrics = metrics; }

    /** checkpointEvery: save the render's state every this many denoising steps (0: never). */
    public DeviceWorker(JobQueue queue, Supplier<WanModel> modelLoader, Mp4Encoder encoder, String workerId, int checkpointEvery) {
        this.queue = queue;
        this.modelLoader = modelLoader;
        this.encoder = encoder;
        this.workerId = workerId;
        this.checkpointEvery = checkpointEvery;
    }

    public synchronized void start() {
        if (thread != null) return;
        thread = Thread.ofPlatform().name("kaze-device").daemon().start(this::run);
    }

    /** True once the model is loaded and jobs are being taken. */
    public boolean ready() { return ready; }

    /** Why the model could not be loaded, or null. */
    public String loadError() { return loadError; }

    public String workerId() { return workerId; }

    private void run() {
        WanModel model;
        try {
            model = modelLoader.get();
        } catch (RuntimeException e) {
            loadError = e.getMessage();
            log.error("cannot load the model: {}", e.getMessage(), e);
            return;
        }
        try (model; WanPipeline pipeline = new WanPipeline(model)) {   // the pipeline's text cache is released first
            int requeued = queue.store().requeueInterrupted(workerId);
            if (requeued > 0) log.info("requeued {} job(s) interrupted by a restart", requeued);
            ready = true;
            while (running) {
                var job = queue.store().claimNext(workerId);
                if (job.isEmpty()) {
                    try {
                        queue.awaitWork(250);
                    } catch (InterruptedException e) {
                        if (!running) break;
                    }
                    continue;
                }
                try {
                    runJob(pipeline, job.get());
                } catch (JobNotFoundException e) {
                    // deleted while it ran (DELETE cancels and removes at once): nothing is left to record
                    log.info("job {} was deleted while it ran", job.get().id());
                    queue.forget(job.get().id());
                } catch (RuntimeException e) {
                    // the store could not record the outcome; keep the worker alive for the next job
                    log.error("job {}: could not record its outcome: {}", job.get().id(), e.getMessage(), e);
                    queue.forget(job.get().id());
                }
            }
        } finally {
            ready = false;
        }
    }

    private void runJob(WanPipeline pipeline, Job job) {
        if (job.kind() == JobKind.TRAINING) {
            runTraining(pipeline, job);
            return;
        }
        String id = job.id();
        JobStore store = queue.store();
        try {
            GenerateRequest.Resolved r = RequestJson.read(job.resolvedJson());
            Progress progress = new Progress(store, id, r.steps(), job.progress(), metrics);
            byte[] resume = store.checkpoint(id).map(Checkpoint::state).orElse(null);
            if (resume != null) {
                int from = store.checkpoint(id).get().step();
                store.appendEvent(id, "resumed", RequestJson.JSON.createObjectNode().put("step", from).toString());
                log.info("job {} resumes from its checkpoint after step {}", id, from);
            }
            DenoisingLoop.Checkpoints checkpoints = checkpointEvery <= 0 ? DenoisingLoop.Checkpoints.NONE
                    : (scheduler, latent, done) -> {
                        if (done % checkpointEvery == 0) store.saveCheckpoint(id, done, RenderCheckpoint.save(scheduler, latent));
                    };
            GeneratedVideo video = pipeline.generate(r, progress, () -> !running || queue.isCancelRequested(id), resume, checkpoints);
            progress.stage("encode", 97);
            encoding.submit(() -> finish(job, r, video));
        } catch (JobNotFoundException e) {
            throw e;
        } catch (CancelledException e) {
            queue.forget(id);
            if (!running) return;   // shutting down: the job stays in progress and is requeued on the next start
            store.cancel(id);
            record("cancelled", job);
        } catch (RuntimeException | Error e) {
            log.warn("job {} failed: {}", id, e.getMessage(), e);
            queue.forget(id);
            store.fail(id, problem("generation-failed", "Generation failed", e.getMessage()));
            record("failed", job);
        }
    }

    private void runTraining(WanPipeline pipeline, Job job) {
        String id = job.id();
        try {
            TrainingRunner.Outcome outcome = new TrainingRunner(queue, () -> running).run(pipeline, job);
            queue.forget(id);
            switch (outcome) {
                case COMPLETED -> record("completed", job);
                case CANCELLED -> record("cancelled", job);
                case INTERRUPTED -> log.info("training {} was interrupted by the shutdown; it resumes from its state at the next start", id);
            }
        } catch (JobNotFoundException e) {
            throw e;
        } catch (dev.kaze.training.DatasetConfigException | dev.kaze.training.DatasetMediaException
                 | dev.kaze.training.DatasetCheckException e) {
            log.warn("training {}: its dataset cannot be used: {}", id, e.getMessage());
            queue.forget(id);
            queue.store().fail(id, problem("invalid-dataset", "The dataset cannot be used", e.getMessage(), 422));
            record("failed", job);
        } catch (RuntimeException | Error e) {
            log.warn("training {} failed: {}", id, e.getMessage(), e);
            queue.forget(id);
            queue.store().fail(id, problem("training-failed", "Training failed", e.getMessage()));
            record("failed", job);
        }
    }

    private void finish(Job job, GenerateRequest.Resolved r, GeneratedVideo video) {
        String id = job.id();
        try {
            Path dir = queue.jobDir(id);
            Files.createDirectories(dir);
            RgbFrames frames = new RgbFrames(video.frames(), video.height(), video.width(), video.fps(), video.rgb());
            encoder.write(frames, dir.resolve("video.mp4"));
            Thumbnail.writeJpeg(frames, dir.resolve("thumbnail.jpg"));
            ObjectNode manifest = RequestJson.write(r, video.modelId());
            manifest.put("software_version", SOFTWARE_VERSION);
            manifest.put("frames_sha256", HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(video.rgb())));
            var hashes = manifest.putObject("lora_sha256");
            for (GenerateRequest.LoraRef l : r.loras()) hashes.put(l.name(), sha256(queue.model().loras().resolve(l.name())));
            Files.writeString(dir.resolve("request.json"), manifest.toPrettyString());
            queue.store().updateProgress(id, 100, "encode", r.steps(), r.steps());
            queue.store().complete(id, job.resolvedJson());
            record("completed", job);
        } catch (JobNotFoundException e) {
            log.info("job {} was deleted while it was encoded", id);
            JobQueue.deleteFiles(queue.jobDir(id));
        } catch (Exception e) {
            log.warn("job {} failed while encoding: {}", id, e.getMessage(), e);
            queue.store().fail(id, problem("encoding-failed", "Encoding failed", e.getMessage()));
            record("failed", job);
        } finally {
            queue.forget(id);
        }
    }

    private void record(String outcome, Job job) {
        JobMetrics m = metrics;
        java.time.Instant started = job.startedAt() != null ? job.startedAt() : java.time.Instant.now();
        if (m != null) m.outcome(outcome, java.time.Duration.between(started, java.time.Instant.now()));
    }

    private synchronized String sha256(Path file) {
        return fileHashes.computeIfAbsent(file.toString(), f -> {
            try (InputStream in = new DigestInputStream(Files.newInputStream(file), MessageDigest.getInstance("SHA-256"))) {
                in.transferTo(java.io.OutputStream.nullOutputStream());
                return HexFormat.of().formatHex(((DigestInputStream) in).getMessageDigest().digest());
            } catch (IOException | java.security.NoSuchAlgorithmException e) {
                return "unreadable: " + e.getMessage();
            }
        });
    }

    static String problem(String type, String title, String detail) {
        return problem(type, title, detail, 500);
    }

    static String problem(String type, String title, String detail, int status) {
        return RequestJson.JSON.createObjectNode().put("type", "https://kaze.dev/problems/" + type).put("title", title)
                .put("status", status).put("detail", detail == null ? title : detail).toString();
    }

    /** Reports stages and steps as monotonic progress events with an ETA. */
    private static final class Progress implements GenerationListener {
        private final JobStore store;
        private final String id;
        private final int steps;
        private int progress;
        private double stepSeconds;
        private int stepsDone;

        private final JobMetrics metrics;
        private String stageName;
        private long stageStarted = System.nanoTime();

        Progress(JobStore store, String id, int steps, int progressSoFar, JobMetrics metrics) {
            this.store = store;
            this.id = id;
            this.steps = steps;
            this.progress = progressSoFar;
            this.metrics = metrics;
        }

        @Override public void onStage(Stage stage) {
            switch (stage) {
                case TEXT -> stage("text", 2);
                case DENOISE -> stage("denoise", 5);
                case DECODE -> stage("decode", 92);
            }
        }

        void stage(String name, int pct) {
            long now = System.nanoTime();
            if (metrics != null && stageName != null) metrics.stage(stageName, java.time.Duration.ofNanos(now - stageStarted));
            stageName = name;
            stageStarted = now;
            progress = Math.max(progress, pct);
            store.updateProgress(id, progress, name, stepsDone, steps);
            store.appendEvent(id, "progress", RequestJson.JSON.createObjectNode().put("stage", name).put("progress", progress)
                    .put("step", stepsDone).put("total_steps", steps).toString());
        }

        @Override public void onStep(int step, int total, double seconds) {
            stepsDone = step;
            stepSeconds += seconds;
            if (metrics != null) metrics.step(seconds);
            progress = Math.max(progress, 5 + (int) (85L * step / total));
            double eta = (stepSeconds / step) * (total - step);
            store.updateProgress(id, progress, "denoise", step, total);
            store.appendEvent(id, "progress", RequestJson.JSON.createObjectNode().put("stage", "denoise").put("progress", progress)
                    .put("step", step).put("total_steps", total).put("step_seconds", seconds)
                    .put("eta_seconds", Math.round(eta)).toString());
        }
    }

    @Override public void close() throws InterruptedException {
        running = false;
        Thread t = thread;
        if (t != null) {
            t.interrupt();
            t.join(TimeUnit.MINUTES.toMillis(2));
        }
        encoding.shutdown();
        encoding.awaitTermination(1, TimeUnit.MINUTES);
    }
}
