package dev.kaze.jobs;

import dev.kaze.json.Json;
import dev.kaze.pipeline.GenerationListener;
import dev.kaze.pipeline.preview.GifPreview;
import dev.kaze.pipeline.preview.PreviewFrames;
import dev.kaze.storage.FileStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongSupplier;

/**
 * Live previews of one video job: asks the denoising loop for a preview at most once per {@code minInterval}
 * (always after the last step), encodes it as an animated GIF on its own thread (the newest one wins when the
 * encoder falls behind), keeps it as the job's {@value #FILE} in the file store (replaced whole, so a reader never
 * sees half a GIF) and records a {@code preview} event
 * with {@code step, total_steps, url, frames, width, height}. {@link #close} waits for the last encode, so every
 * preview event comes before the job's terminal event.
 */
final class JobPreviews implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(JobPreviews.class);
    static final String FILE = "preview.gif";
    /** Latent pixels to preview pixels (the latent is 1/8 of the frame). */
    static final int SCALE = 2;

    private record Pending(int step, int total, PreviewFrames frames) {}

    private final JobStore store;
    private final String id;
    private final FileStore files;
    private final long minIntervalNanos;
    private final int delayMs;
    private final LongSupplier clock;
    private final AtomicReference<Pending> pending = new AtomicReference<>();
    private final ExecutorService encoder;
    private long lastAt;
    private boolean any;

    /** fps: the video's, so the preview plays at its speed (each latent frame stands for 4 video frames). */
    JobPreviews(JobStore store, FileStore files, String id, Duration minInterval, int fps, LongSupplier clock) {
        this.store = store;
        this.files = files;
        this.id = id;
        this.minIntervalNanos = minInterval.toNanos();
        this.delayMs = Math.max(20, 4000 / Math.max(1, fps));
        this.clock = clock;
        this.encoder = Executors.newSingleThreadExecutor(r -> Thread.ofPlatform().name("kaze-preview-" + id).daemon().unstarted(r));
    }

    /** The URL that serves the newest preview. */
    static String url(String id) { return "/v1/videos/" + id + "/content?variant=preview"; }

    /** Whether the step gets a preview: the last always, others when minInterval has passed since the last one. */
    boolean due(int step, int total) {
        long now = clock.getAsLong();
        if (step < total && any && now - lastAt < minIntervalNanos) return false;
        any = true;
        lastAt = now;
        return true;
    }

    /** inner with previews: its stages and steps, and the previews this class asks for. */
    GenerationListener around(GenerationListener inner) {
        return new GenerationListener() {
            @Override public void onStage(Stage stage) { inner.onStage(stage); }
            @Override public void onStep(int step, int total, double seconds) { inner.onStep(step, total, seconds); }
            @Override public boolean wantsPreview(int step, int total) { return due(step, total); }
            @Override public void onPreview(int step, int total, PreviewFrames preview) { offer(step, total, preview); }
        };
    }

    void offer(int step, int total, PreviewFrames frames) {
        if (pending.getAndSet(new Pending(step, total, frames)) == null) encoder.execute(this::publish);
    }

    private void publish() {
        Pending p = pending.getAndSet(null);
        if (p == null) return;
        try {
            byte[] gif = GifPreview.encode(p.frames(), SCALE, delayMs);
            files.put(JobQueue.fileKey(id, FILE), gif);
            store.appendEvent(id, JobEventType.PREVIEW.wireName(), Json.MAPPER.createObjectNode()
                    .put("step", p.step()).put("total_steps", p.total()).put("url", url(id)).put("frames", p.frames().frames())
                    .put("width", p.frames().width() * SCALE).put("height", p.frames().height() * SCALE).toString());
        } catch (RuntimeException e) {
            log.warn("job {}: preview after step {} not kept: {}", id, p.step(), e.getMessage());
        }
    }

    /** Waits (up to 30 s) for the preview being encoded; the job's next events come after it. */
    @Override public void close() {
        encoder.shutdown();
        try {
            if (!encoder.awaitTermination(30, TimeUnit.SECONDS)) log.warn("job {}: the last preview took over 30 s to encode", id);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
