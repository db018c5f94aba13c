package dev.kaze.pipeline.lora;

import java.util.OptionalDouble;

/**
 * One change a LoRA file makes to one model key ({@link #target()}, the DiT's own name). The
 * tensors stay in the file; a patch names them by their stored names.
 */
public sealed interface LoraPatch {
    /** The model key this patch changes, e.g. {@code blocks.0.self_attn.q.weight}. */
    String target();

    /** The factor the patch's delta is multiplied by before the strength. */
    double scale();

    /**
     * {@code ΔW = scale · (up.flatten(1) @ down.flatten(1))} reshaped to the target; {@code rank}
     * is {@code down.shape[0]}. The scale is {@code alpha / rank} where the file stores an alpha
     * (an alpha of 0 counts as none, as musubi and Kijai treat it), else 1.
     */
    record LowRank(String target, String up, String down, long rank, OptionalDouble alpha) implements LoraPatch {
        @Override public double scale() {
            return alpha.isPresent() && alpha.getAsDouble() != 0 ? alpha.getAsDouble() / rank : 1.0;
        }
    }

    /**
     * A full delta of the target's shape: {@code .diff} (weights, norm weights, modulation),
     * {@code .diff_b} (biases), {@code .diff_m} (modulation), or PEFT's {@code lora_B.bias}, which
     * is scaled like the LoRA pair it belongs to.
     */
    record Diff(String target, String tensor, double scale) implements LoraPatch {}
}
