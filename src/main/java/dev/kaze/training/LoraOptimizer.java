package dev.kaze.training;

import org.bytedeco.pytorch.Tensor;

import java.util.Map;

/**
 * The optimizer of a LoRA run: torch's 32-bit {@link AdamW} (optimizer_type adamw) or bitsandbytes'
 * {@link AdamW8bit} (optimizer_type adamw8bit), over the LoRA parameters by name.
 */
public sealed interface LoraOptimizer extends AutoCloseable permits AdamW, AdamW8bit {
    /** One update of every parameter that has a gradient. */
    void step();

    /** Steps taken so far (bias correction). */
    long steps();

    /** The first and second moment of one parameter as float32 tensors (dequantised for 8-bit state), or null. */
    Tensor[] moments(String name);

    /** Puts back a saved state: the step count and every parameter's first and second moment (shapes must match). */
    void restore(long steps, Map<String, Tensor[]> moments);

    /** The optimizer as musubi records it in {@code ss_optimizer}. */
    String recordedName();

    /** Bytes of optimizer state per parameter element, for the memory plan: 8 for two float32 moments. */
    double stateBytesPerElement();

    @Override void close();

    /** The optimizer optimizer_type names ("adamw" or "adamw8bit", any case). */
    static LoraOptimizer of(String optimizerType, Map<String, Tensor> parameters, AdamW.Settings settings) {
        return optimizerType.equalsIgnoreCase("adamw8bit") ? new AdamW8bit(parameters, settings) : new AdamW(parameters, settings);
    }
}
