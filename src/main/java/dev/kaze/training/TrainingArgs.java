package dev.kaze.training;

/**
 * The hyper-parameters of one LoRA run, named after musubi-tuner's command-line options
 * (network_dim, network_alpha, learning_rate, max_train_steps, seed, discrete_flow_shift,
 * max_grad_norm, save_every_n_steps, output_name). The optimizer is AdamW with torch's defaults
 * (betas 0.9/0.999, eps 1e-8, weight_decay 0.01) and the constant LR schedule; batch size 1.
 *
 * @param networkDim        network_dim: LoRA rank (32 in the reference run)
 * @param networkAlpha      network_alpha (32); ≤ 0 means alpha = rank
 * @param learningRate      learning_rate (5e-5)
 * @param maxTrainSteps     max_train_steps
 * @param seed              seed: LoRA init, data order, noise and timesteps all derive from it
 * @param discreteFlowShift discrete_flow_shift (3.0)
 * @param maxGradNorm       max_grad_norm (1.0; 0 turns clipping off)
 * @param saveEveryNSteps   save_every_n_steps: LoRA and state every N steps (0: only at the end)
 * @param outputName        output_name: file stem of the saved LoRAs and state directories
 */
public record TrainingArgs(int networkDim, double networkAlpha, double learningRate, int maxTrainSteps, long seed,
                           double discreteFlowShift, double maxGradNorm, int saveEveryNSteps, String outputName) {
    public TrainingArgs {
        if (networkDim < 1) throw new IllegalArgumentException("network_dim must be at least 1, got " + networkDim);
        if (!(learningRate >= 0)) throw new IllegalArgumentException("learning_rate must be >= 0, got " + learningRate);
        if (maxTrainSteps < 1) throw new IllegalArgumentException("max_train_steps must be at least 1, got " + maxTrainSteps);
        if (!(discreteFlowShift > 0)) throw new IllegalArgumentException("discrete_flow_shift must be positive, got " + discreteFlowShift);
        if (!(maxGradNorm >= 0)) throw new IllegalArgumentException("max_grad_norm must be >= 0, got " + maxGradNorm);
        if (saveEveryNSteps < 0) throw new IllegalArgumentException("save_every_n_steps must be >= 0, got " + saveEveryNSteps);
        if (outputName == null || !outputName.matches("[A-Za-z0-9._-]+") || outputName.contains(".."))
            throw new IllegalArgumentException("output_name must be letters, digits, '.', '_' or '-', got '" + outputName + "'");
    }

    /** The reference run's settings (dim 32, alpha 32, lr 5e-5, shift 3.0, clip 1.0, seed 2025) for this many steps. */
    public static TrainingArgs reference(int maxTrainSteps, String outputName) {
        return new TrainingArgs(32, 32, 5e-5, maxTrainSteps, 2025, 3.0, 1.0, 0, outputName);
    }
}
