package dev.kaze.jobs;

import dev.kaze.pipeline.WanPipeline;
import dev.kaze.training.TrainingListener;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * A training run's usage: the time between the trainer's callbacks is given to the stage the callback ends
 * ({@code train} for a step, {@code sample} for a rendered sample, {@code save} for a saved LoRA or state), the
 * dataset's preparation to {@code prepare}, and the peak memory of the run ({@link PeakMemory}). Recorded once, by
 * {@link #record()} or at the latest on {@link #close()} (a cancel, a shutdown or a failure), so a resumed training
 * adds its runs up.
 */
final class TrainingUsage implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(TrainingUsage.class);

    private final JobStore store;
    private final String id;
    private final String model;
    private final PeakMemory peak;
    private final LongSupplier nanos;
    private final Map<String, Double> seconds = new LinkedHashMap<>();
    private long last;
    private boolean recorded;

    TrainingUsage(JobStore store, String id, String model, PeakMemory peak, LongSupplier nanos) {
        this.store = store;
        this.id = id;
        this.model = model;
        this.peak = peak;
        this.nanos = nanos;
        this.last = nanos.getAsLong();
    }

    /** Starts timing job {@code id} on the pipeline's device. */
    static TrainingUsage start(JobQueue queue, String id, WanPipeline pipeline) {
        return new TrainingUsage(queue.store(), id, queue.model().identity(), PeakMemory.start(pipeline.model().device()),
                System::nanoTime);
    }

    /** Gives the time since the previous mark to {@code stage}. */
    synchronized void mark(String stage) {
        long now = nanos.getAsLong();
        seconds.merge(stage, (now - last) / 1e9, Double::sum);
        last = now;
    }

    /** Seconds per stage so far. */
    synchronized Map<String, Double> stageSeconds() {
        return new LinkedHashMap<>(seconds);
    }

    /** {@code listener}, with each callback marking the stage it ends first. */
    TrainingListener timing(TrainingListener listener) {
        return new TrainingListener() {
            @Override public void onStep(int step, int maxSteps, int epoch, double loss, double avgLoss, double lr) {
                mark("train");
                listener.onStep(step, maxSteps, epoch, loss, avgLoss, lr);
            }

            @Override public void onSaved(Path path, boolean state) {
                mark("save");
                listener.onSaved(path, state);
            }

            @Override public void onSample(Path file, int step, int epoch) {
                mark("sample");
                listener.onSample(file, step, epoch);
            }

            @Override public void onValidation(int step, int epoch, double loss) {
                listener.onValidation(step, epoch, loss);
            }

            @Override public boolean stopRequested() {
                return listener.stopRequested();
            }
        };
    }

    /** Stores the usage with the job (once; the time since the last callback goes to {@code train}). */
    synchronized void record() {
        if (recorded) return;
        recorded = true;
        mark("train");
        try {
            PeakMemory.Reading memory = peak == null ? new PeakMemory.Reading(null, null) : peak.read();
            store.recordUsage(id, new JobUsage(seconds, memory.bytes(), memory.source(), model, Map.of()));
        } catch (RuntimeException e) {
            log.warn("could not record the usage of training {}: {}", id, e.getMessage());
        }
    }

    @Override public void close() {
        record();
    }
}
