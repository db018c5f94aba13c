package dev.kaze.jobs;

import dev.kaze.pipeline.ModelDirectory;
import dev.kaze.pipeline.WanModel;
import dev.kaze.pipeline.WanPipeline;
import dev.kaze.video.Mp4Encoder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The one platform thread that owns libtorch: loads the model, requeues the jobs a restart interrupted,
 * then claims jobs one at a time (priority, then FIFO), runs each with the {@link JobRunner} of its kind
 * while the model stays resident, and records how it ended. Between jobs, and every half worker timeout
 * while it waits for one, it requeues the running jobs of other workers that died (no heartbeat within the
 * store's worker timeout), so that another replica resumes them from their checkpoints. Its own heartbeat comes
 * from a thread of its own, every third of the timeout, so that a long stage (a model load, a VAE decode) without
 * progress does not make a live worker look dead. A rendered video is encoded by the
 * {@link VideoFinisher} on its own thread so the next job can start denoising. A failed job never stops
 * the worker.
 */
public final class DeviceWorker implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(DeviceWorker.class);
    /** How often loading is retried while the model directory lacks files, by default. */
    public static final Duration INCOMPLETE_RETRY = Duration.ofSeconds(3);

    private final JobQueue queue;
    private final Supplier<WanModel> modelLoader;
    private final JobMetrics metrics;
    private final String workerId;
    private final VideoFinisher finisher;
    private final VideoJobRunner videos;
    private final TrainingRunner trainings;
    private volatile boolean running = true;
    private volatile boolean ready;
    private volatile String loadError;
    private final Semaphore reloads = new Semaphore(0);
    private final Duration incompleteRetry;
    private final long reapEveryNanos;
    private long nextReap;
    private final ScheduledExecutorService heartbeats = Executors.newSingleThreadScheduledExecutor(
            r -> Thread.ofPlatform().name("kaze-heartbeat").daemon().unstarted(r));
    private Thread thread;

    /**
     * How the worker runs its jobs.
     *
     * @param workerId        this installation's id (its interrupted jobs are claimed back at once after a restart)
     * @param checkpointEvery save a render's state every this many denoising steps (0: never)
     * @param previewInterval at most one live preview per this interval while a video renders (the last step's always)
     * @param incompleteRetry how often loading is retried while the model directory lacks files
     */
    public record Settings(String workerId, int checkpointEvery, Duration previewInterval, Duration incompleteRetry) {
        public Settings {
            if (checkpointEvery < 0) throw new IllegalArgumentException("checkpointEvery must be 0 (never) or more, got " + checkpointEvery);
        }

        /** No checkpoints, a preview per second, loading retried every 3 s. */
        public static Settings of(String workerId) {
            return new Settings(workerId, 0, Duration.ofSeconds(1), INCOMPLETE_RETRY);
        }

        public Settings withIncompleteRetry(Duration retry) { return new Settings(workerId, checkpointEvery, previewInterval, retry); }
    }

    public DeviceWorker(JobQueue queue, Supplier<WanModel> modelLoader, Mp4Encoder encoder, JobMetrics metrics, Settings settings) {
        this.incompleteRetry = settings.incompleteRetry();
        this.queue = queue;
        this.modelLoader = modelLoader;
        this.metrics = metrics;
        this.workerId = settings.workerId();
        this.finisher = new VideoFinisher(queue, encoder);
        this.videos = new VideoJobRunner(queue, finisher, metrics, settings.checkpointEvery(), settings.previewInterval(), () -> running);
        this.trainings = new TrainingRunner(queue, () -> running);
        this.reapEveryNanos = Math.max(queue.store().workerTimeout().toNanos() / 2, TimeUnit.MILLISECONDS.toNanos(100));
    }

    public synchronized void start() {
        if (thread != null) return;
        long beatEvery = Math.max(queue.store().workerTimeout().toNanos() / 3, TimeUnit.MILLISECONDS.toNanos(100));
        heartbeats.scheduleWithFixedDelay(this::heartbeat, 0, beatEvery, TimeUnit.NANOSECONDS);
        thread = Thread.ofPlatform().name("kaze-device").daemon().start(this::run);
    }

    /** True once the model is loaded and jobs are being taken. */
    public boolean ready() { return ready; }

    /** Why the model could not be loaded, or null. */
    public String loadError() { return loadError; }

    public String workerId() { return workerId; }

    /**
     * Loads the model again if it could not be loaded (a pull completed the model directory, or its
     * files were fixed); does nothing once the model is loaded.
     */
    public void reload() { reloads.release(); }

    /** The model, retried while its directory is incomplete (every few seconds) or after {@link #reload()}; null once closed. */
    private WanModel load() {
        while (running) {
            try {
                WanModel model = modelLoader.get();
                if (loadError != null) log.info("the model is loaded now");
                loadError = null;
                return model;
            } catch (RuntimeException e) {
                boolean incomplete = e instanceof ModelDirectory.IncompleteException;
                if (!Objects.equals(e.getMessage(), loadError)) {
                    if (incomplete) log.error("cannot load the model yet, retrying every {} s and after each pull: {}",
                            incompleteRetry.toSeconds(), e.getMessage());
                    else log.error("cannot load the model (retried after a pull of its bundle): {}", e.getMessage(), e);
                }
                loadError = e.getMessage();
                try {
                    if (incomplete) reloads.tryAcquire(incompleteRetry.toMillis(), TimeUnit.MILLISECONDS);
                    else reloads.acquire();
                    reloads.drainPermits();
                } catch (InterruptedException stop) {
                    // close() wakes the worker; the loop sees that it no longer runs
                }
            }
        }
        return null;
    }

    private void run() {
        WanModel model = load();
        if (model == null) return;
        try (model; WanPipeline pipeline = new WanPipeline(model)) {   // the pipeline's text cache is released first
            int requeued = queue.store().requeueInterrupted(workerId);
            if (requeued > 0) log.info("requeued {} job(s) interrupted by a restart", requeued);
            nextReap = System.nanoTime() + reapEveryNanos;
            ready = true;
            while (running) step(pipeline);
        } finally {
            ready = false;
        }
    }

    /** One turn of the loop: claim the next job (or wait for one), run it with its kind's runner, record how it ended. */
    private void step(WanPipeline pipeline) {
        reapAbandoned();
        Optional<Job> claimed = queue.store().claimNext(workerId);
        if (claimed.isEmpty()) {
            awaitWork();
            return;
        }
        Job job = claimed.get();
        CompletableFuture<JobOutcome> outcome;
        try {
            outcome = runnerFor(job.kind()).run(pipeline, job);
        } catch (RuntimeException e) {
            outcome = CompletableFuture.failedFuture(e);
        }
        outcome.whenComplete((ended, error) -> ended(job, ended, error));
    }

    /**
     * Requeues the running jobs of other workers whose heartbeat is older than the store's worker timeout, at most
     * every half timeout; never this worker's own (a video of it may still be encoding). A store error is logged
     * and retried at the next turn: the worker goes on with its own jobs.
     */
    private void reapAbandoned() {
        long now = System.nanoTime();
        if (now - nextReap < 0) return;
        nextReap = now + reapEveryNanos;
        try {
            int requeued = queue.store().requeueAbandoned(workerId);
            if (requeued > 0) log.info("requeued {} job(s) of dead workers; they resume from their checkpoints", requeued);
        } catch (JobStoreException e) {
            log.warn("could not requeue the jobs of dead workers (retried in {} ms): {}",
                    TimeUnit.NANOSECONDS.toMillis(reapEveryNanos), e.getMessage());
        }
    }

    /** Marks this worker alive, from its own thread; a store error is logged and the next beat tries again. */
    private void heartbeat() {
        try {
            queue.store().heartbeat(workerId);
        } catch (JobStoreException e) {
            log.warn("could not record the heartbeat of worker {}: {}", workerId, e.getMessage());
        }
    }

    private JobRunner runnerFor(JobKind kind) {
        return switch (kind) {
            case VIDEO -> videos;
            case TRAINING -> trainings;
        };
    }

    private void awaitWork() {
        try {
            queue.awaitWork(250);
        } catch (InterruptedException e) {
            // close() wakes the worker; the loop sees that it no longer runs
        }
    }

    /** Records how a job ended; runs on the worker's thread, or on the encoding thread for a video handed over. */
    private void ended(Job job, JobOutcome outcome, Throwable error) {
        queue.forget(job.id());
        Throwable cause = error instanceof CompletionException c && c.getCause() != null ? c.getCause() : error;
        switch (cause) {
            case null -> record(job, outcome);
            // deleted while it ran (DELETE cancels and removes at once): nothing is left to record
            case JobNotFoundException e -> log.info("job {} was deleted while it ran", job.id());
            // the store could not record the outcome; the worker goes on with the next job
            default -> log.error("job {}: could not record its outcome: {}", job.id(), cause.getMessage(), cause);
        }
    }

    private void record(Job job, JobOutcome outcome) {
        if (outcome == JobOutcome.INTERRUPTED) {
            log.info("job {} was interrupted by the shutdown; it is requeued and resumes at the next start", job.id());
            return;
        }
        Instant started = job.startedAt() != null ? job.startedAt() : Instant.now();
        metrics.outcome(outcome, Duration.between(started, Instant.now()));
    }

    @Override public void close() throws InterruptedException {
        running = false;
        heartbeats.shutdownNow();
        Thread t = thread;
        if (t != null) {
            t.interrupt();
            t.join(TimeUnit.MINUTES.toMillis(2));
        }
        finisher.close();
    }
}
