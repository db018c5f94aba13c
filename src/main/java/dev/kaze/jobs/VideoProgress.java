package dev.kaze.jobs;

import dev.kaze.json.Json;
import dev.kaze.pipeline.GenerationListener;

import java.time.Duration;

/**
 * A video job's progress: the pipeline's stages and denoising steps become monotonic progress (percent),
 * {@code progress} events with an ETA, and stage and step timings in the metrics.
 */
final class VideoProgress implements GenerationListener {
    private final JobStore store;
    private final String id;
    private final int steps;
    private final JobMetrics metrics;
    private int progress;
    private double stepSeconds;
    private int stepsDone;
    private String stageName;
    private long stageStarted = System.nanoTime();

    /** progressSoFar: what the job showed before (a resumed job never goes back). */
    VideoProgress(JobStore store, String id, int steps, int progressSoFar, JobMetrics metrics) {
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

    /** Enters stage {@code name} at (at least) {@code pct} percent; the previous stage's time goes to the metrics. */
    void stage(String name, int pct) {
        long now = System.nanoTime();
        if (stageName != null) metrics.stage(stageName, Duration.ofNanos(now - stageStarted));
        stageName = name;
        stageStarted = now;
        progress = Math.max(progress, pct);
        store.updateProgress(id, progress, name, stepsDone, steps);
        store.appendEvent(id, JobEventType.PROGRESS.wireName(), Json.MAPPER.createObjectNode().put("stage", name)
                .put("progress", progress).put("step", stepsDone).put("total_steps", steps).toString());
    }

    @Override public void onStep(int step, int total, double seconds) {
        stepsDone = step;
        stepSeconds += seconds;
        metrics.step(seconds);
        progress = Math.max(progress, 5 + (int) (85L * step / total));
        double eta = (stepSeconds / step) * (total - step);
        store.updateProgress(id, progress, "denoise", step, total);
        store.appendEvent(id, JobEventType.PROGRESS.wireName(), Json.MAPPER.createObjectNode().put("stage", "denoise")
                .put("progress", progress).put("step", step).put("total_steps", total).put("step_seconds", seconds)
                .put("eta_seconds", Math.round(eta)).toString());
    }
}
