package dev.kaze.jobs;

import dev.kaze.json.Json;
import dev.kaze.pipeline.GenerationListener;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A video job's progress: the pipeline's stages and denoising steps become monotonic progress (percent),
 * {@code progress} events with an ETA, and stage and step timings in the metrics and in the job's usage
 * ({@link #stageSeconds()}).
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
    private final Map<String, Double> stageSeconds = new LinkedHashMap<>();

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
        long now = closeStage();
        stageName = name;
        stageStarted = now;
        progress = Math.max(progress, pct);
        store.updateProgress(id, progress, name, stepsDone, steps);
        store.appendEvent(id, JobEventType.PROGRESS.wireName(), Json.MAPPER.createObjectNode().put("stage", name)
                .put("progress", progress).put("step", stepsDone).put("total_steps", steps).toString());
    }

    /** Ends the stage running now (its time goes to the metrics and the usage); a later {@link #stage} starts anew. */
    synchronized void end() {
        closeStage();
        stageName = null;
    }

    /** Seconds spent per stage so far, in the order the stages ran (a stage entered twice adds up). */
    synchronized Map<String, Double> stageSeconds() {
        return new LinkedHashMap<>(stageSeconds);
    }

    private synchronized long closeStage() {
        long now = System.nanoTime();
        if (stageName != null) {
            Duration took = Duration.ofNanos(now - stageStarted);
            metrics.stage(stageName, took);
            stageSeconds.merge(stageName, took.toNanos() / 1e9, Double::sum);
        }
        return now;
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
