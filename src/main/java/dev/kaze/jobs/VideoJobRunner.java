package dev.kaze.jobs;

import dev.kaze.json.Json;
import dev.kaze.pipeline.CancelledException;
import dev.kaze.pipeline.DenoisingLoop;
import dev.kaze.pipeline.GenerateRequest;
import dev.kaze.pipeline.GeneratedVideo;
import dev.kaze.pipeline.RenderCheckpoint;
import dev.kaze.pipeline.WanPipeline;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.BooleanSupplier;

/**
 * Runs one video job on the device worker's thread: reads the resolved request, continues from the job's
 * render checkpoint if it has one, saves a checkpoint every {@code checkpointEvery} steps, renders the
 * frames, and hands them to the {@link VideoFinisher}. A cancel stops the render after its current step;
 * a shutdown leaves the job in progress, to be resumed from its checkpoint at the next start.
 */
final class VideoJobRunner implements JobRunner {
    private static final Logger log = LoggerFactory.getLogger(VideoJobRunner.class);

    private final JobQueue queue;
    private final VideoFinisher finisher;
    private final JobMetrics metrics;
    private final int checkpointEvery;
    private final BooleanSupplier running;
    private final Duration previewInterval;

    /**
     * checkpointEvery: save the render's state every this many denoising steps (0: never); previewInterval: at most one
     * preview event per this interval (the last step's always comes).
     */
    VideoJobRunner(JobQueue queue, VideoFinisher finisher, JobMetrics metrics, int checkpointEvery, Duration previewInterval,
                   BooleanSupplier running) {
        this.queue = queue;
        this.finisher = finisher;
        this.metrics = metrics;
        this.checkpointEvery = checkpointEvery;
        this.previewInterval = previewInterval;
        this.running = running;
    }

    @Override public CompletableFuture<JobOutcome> run(WanPipeline pipeline, Job job) {
        String id = job.id();
        JobStore store = queue.store();
        VideoProgress progress = null;
        PeakMemory peak = null;
        try {
            GenerateRequest.Resolved r = RequestJson.read(job.resolvedJson());
            progress = new VideoProgress(store, id, r.steps(), job.progress(), metrics);
            peak = PeakMemory.start(pipeline.model().device());
            byte[] resume = resumeState(store, id);
            GeneratedVideo video;
            try (JobPreviews previews = new JobPreviews(store, queue.files(), id, previewInterval, r.fps(), System::nanoTime)) {
                video = pipeline.generate(r, r.previews() ? previews.around(progress) : progress,
                        () -> !running.getAsBoolean() || queue.isCancelRequested(id), resume, checkpoints(store, id));
            }
            progress.stage("encode", 97);
            // read before the worker moves on: the next job resets the peak
            return finisher.finish(job, r, video, progress, peak.read());
        } catch (JobNotFoundException e) {
            throw e;
        } catch (CancelledException e) {
            recordUsage(store, id, progress, peak, queue.model().identity());
            if (!running.getAsBoolean()) return ended(JobOutcome.INTERRUPTED);   // requeued at the next start
            store.cancel(id);
            return ended(JobOutcome.CANCELLED);
        } catch (RuntimeException | Error e) {
            log.warn("job {} failed: {}", id, e.getMessage(), e);
            recordUsage(store, id, progress, peak, queue.model().identity());
            store.fail(id, ProblemTypes.failure("generation-failed", "Generation failed", 500, e.getMessage()));
            return ended(JobOutcome.FAILED);
        }
    }

    /** The device time a render that did not finish used (a resumed job's runs add up); never fails the job. */
    private static void recordUsage(JobStore store, String id, VideoProgress progress, PeakMemory peak, String model) {
        if (progress == null) return;
        try {
            progress.end();
            PeakMemory.Reading memory = peak == null ? new PeakMemory.Reading(null, null) : peak.read();
            store.recordUsage(id, new JobUsage(progress.stageSeconds(), memory.bytes(), memory.source(),
                    model, Map.of()));
        } catch (RuntimeException e) {
            log.warn("could not record the usage of job {}: {}", id, e.getMessage());
        }
    }

    /** The saved render state to continue from (recorded as a {@code resumed} event), or null for a fresh render. */
    private static byte[] resumeState(JobStore store, String id) {
        Optional<Checkpoint> saved = store.checkpoint(id);
        if (saved.isEmpty()) return null;
        int from = saved.get().step();
        store.appendEvent(id, JobEventType.RESUMED.wireName(), Json.MAPPER.createObjectNode().put("step", from).toString());
        log.info("job {} resumes from its checkpoint after step {}", id, from);
        return saved.get().state();
    }

    private DenoisingLoop.Checkpoints checkpoints(JobStore store, String id) {
        if (checkpointEvery <= 0) return DenoisingLoop.Checkpoints.NONE;
        return (scheduler, latent, done) -> {
            if (done % checkpointEvery == 0) store.saveCheckpoint(id, done, RenderCheckpoint.save(scheduler, latent));
        };
    }

    private static CompletableFuture<JobOutcome> ended(JobOutcome outcome) {
        return CompletableFuture.completedFuture(outcome);
    }
}
