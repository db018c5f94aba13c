package dev.kaze.training;

import java.nio.file.Path;

/** Progress of a LoRA run. */
public interface TrainingListener {
    /**
     * After every optimizer step: step counts from 1; avgLoss is the mean over the last
     * epoch-length steps (musubi's moving average); lr the learning rate the step used.
     */
    void onStep(int step, int maxSteps, int epoch, double loss, double avgLoss, double lr);

    /** After a LoRA (state == false) or a state directory (state == true) was written. */
    default void onSaved(Path path, boolean state) {}

    /**
     * After a sample was rendered with the LoRA being trained: file is the MP4 (or PNG for one frame)
     * under {@code {output_dir}/sample/}; step is the optimizer steps done, epoch the epochs done
     * (0 for a sample before the first step).
     */
    default void onSample(Path file, int step, int epoch) {}

    /** After a validation: the validation loss ({@link ValidationLoss}) with the weights after step; epoch the step's epoch. */
    default void onValidation(int step, int epoch, double loss) {}

    /** Asked after every step; true stops the run there (after that step's saves). */
    default boolean stopRequested() { return false; }

    TrainingListener NONE = (step, max, epoch, loss, avg, lr) -> {};
}
