package dev.kaze.pipeline;

import dev.kaze.pipeline.preview.PreviewFrames;

/** Receives one call per finished denoising step (on the device thread; keep it quick). */
@FunctionalInterface
public interface StepListener {
    StepListener NONE = (step, total, seconds) -> {};

    /** step counts from 1 to total; seconds is the wall time of that step. */
    void onStep(int step, int total, double seconds);

    /**
     * Whether to make a preview of the clean-video estimate after this step (asked before the step's
     * {@link #onStep}; nothing is computed when false, the default).
     */
    default boolean wantsPreview(int step, int total) { return false; }

    /** The preview asked for by {@link #wantsPreview}, after {@link #onStep} of the same step; hand slow work elsewhere. */
    default void onPreview(int step, int total, PreviewFrames preview) {}
}
