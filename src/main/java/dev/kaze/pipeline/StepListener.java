package dev.kaze.pipeline;

/** Receives one call per finished denoising step (on the device thread; keep it quick). */
@FunctionalInterface
public interface StepListener {
    StepListener NONE = (step, total, seconds) -> {};

    /** step counts from 1 to total; seconds is the wall time of that step. */
    void onStep(int step, int total, double seconds);
}
