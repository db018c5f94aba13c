package dev.kaze.jobs;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import org.bytedeco.javacpp.Pointer;

import java.time.Duration;

/**
 * Prometheus metrics of the queue and the worker: queue depth, job and stage durations, seconds
 * per denoising step, outcomes, and native (host) memory held by libtorch/JavaCPP.
 */
public final class JobMetrics {
    private final MeterRegistry registry;
    private final DistributionSummary stepSeconds;

    public JobMetrics(MeterRegistry registry, JobStore store) {
        this.registry = registry;
        Gauge.builder("kaze.queue.depth", store, s -> s.queueDepth()).description("jobs waiting in the queue").register(registry);
        Gauge.builder("kaze.native.memory.bytes", () -> Pointer.physicalBytes()).description("resident memory of the process (host)").baseUnit("bytes").register(registry);
        Gauge.builder("kaze.native.javacpp.bytes", () -> Pointer.totalBytes()).description("native memory allocated through JavaCPP").baseUnit("bytes").register(registry);
        this.stepSeconds = DistributionSummary.builder("kaze.step.seconds").description("wall time of one denoising step")
                .baseUnit("seconds").publishPercentiles(0.5, 0.9, 0.99).register(registry);
    }

    public void step(double seconds) { stepSeconds.record(seconds); }

    public void stage(String stage, Duration d) {
        Timer.builder("kaze.stage.duration").tag("stage", stage).description("time spent in a generation stage").register(registry).record(d);
    }

    /** A job that ended with {@code outcome} after running for {@code total}. */
    public void outcome(JobOutcome outcome, Duration total) {
        Counter.builder("kaze.jobs").tag("outcome", outcome.tag()).description("finished jobs by outcome").register(registry).increment();
        Timer.builder("kaze.job.duration").tag("outcome", outcome.tag()).description("time from start to finish of a job").register(registry).record(total);
    }
}
