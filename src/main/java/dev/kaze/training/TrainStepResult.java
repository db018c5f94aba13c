package dev.kaze.training;

/**
 * What one training step measured: the model timesteps it used (t·1000 + 1 per sample), the
 * flow-matching loss, and the global L2 norm of the LoRA gradients before clipping.
 */
public record TrainStepResult(double[] timesteps, double loss, double gradNorm) {
    public TrainStepResult {
        timesteps = timesteps.clone();
    }

    @Override public double[] timesteps() { return timesteps.clone(); }
}
