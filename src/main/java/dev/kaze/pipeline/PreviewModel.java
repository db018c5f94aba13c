package dev.kaze.pipeline;

import dev.kaze.pipeline.dit.DitConfig;
import dev.kaze.pipeline.text.ByteTokenizer;
import dev.kaze.pipeline.text.T5Config;
import dev.kaze.pipeline.vae.VaeConfig;
import dev.kaze.tensor.Weights;

import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The built-in {@code preview} model: Wan2.1's architecture at tiny width (umT5, DiT and VAE)
 * with weights generated from a fixed seed and a byte-level tokenizer, so the whole product runs
 * on a CPU with no files. Its output is abstract motion, never the real model's.
 */
public final class PreviewModel {
    private PreviewModel() {}

    public static final String ID = "wan2.1-t2v-preview";
    public static final long SEED = 20250301L;
    public static final int TEXT_LEN = 64;

    public static final T5Config T5 = new T5Config(ByteTokenizer.VOCAB_SIZE, 32, 32, 64, 4, 2, 32, false, T5Config.DEFAULT_EPS);
    public static final DitConfig DIT = new DitConfig(new int[]{1, 2, 2}, TEXT_LEN, 16, 32, 64, 32, 32, 16, 2, 1, true, true, 1e-6);
    public static final VaeConfig VAE = new VaeConfig(4, 16, List.of(1, 2, 2, 2), 1, List.of(), List.of(false, true, true));

    /**
     * Deterministic values per key: ones for norm weights and gammas, small normals for biases and
     * modulation, normal / sqrt(fan_in) for Linear and conv weights.
     */
    public static Weights.Initializer initializer(long seed) {
        return (key, shape) -> {
            long n = 1;
            for (long d : shape) n *= d;
            float[] v = new float[Math.toIntExact(n)];
            SplittableRandom random = new SplittableRandom(seed ^ (key.hashCode() * 0x9E3779B97F4A7C15L));
            boolean normWeight = key.endsWith("gamma") || (key.contains("norm") && key.endsWith(".weight") && shape.length == 1);
            if (normWeight) {
                Arrays.fill(v, 1f);
                return v;
            }
            double std;
            if (key.endsWith(".bias")) std = 0.02;
            else if (key.contains("modulation")) std = 0.1;
            else if (key.contains("token_embedding")) std = 1.0;
            else if (key.contains("pos_embedding")) std = 0.1;
            else {
                long fanIn = 1;
                for (int i = 1; i < shape.length; i++) fanIn *= shape[i];
                std = 1.0 / Math.sqrt(Math.max(1, fanIn));
            }
            for (int i = 0; i < v.length; i++) v[i] = (float) (random.nextGaussian() * std);
            return v;
        };
    }
}
