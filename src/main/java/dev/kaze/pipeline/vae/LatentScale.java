// Port of wan/modules/vae.py, WanVAE.__init__ (mean, std, scale = [mean, 1/std])
package dev.kaze.pipeline.vae;

import dev.kaze.json.Json;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;

import java.util.Arrays;

/**
 * Per-channel normalisation of the latents: encode returns (mu - mean) · (1/std), decode first
 * maps z back with z / (1/std) + mean. {@link #WAN21} holds the constants of the Wan2.1 VAE.
 */
public record LatentScale(float[] mean, float[] std) {
    /** wan/modules/vae.py WanVAE.__init__ (identical in diffusers' AutoencoderKLWan config). */
    public static final LatentScale WAN21 = new LatentScale(
            new float[]{-0.7571f, -0.7089f, -0.9113f, 0.1075f, -0.1745f, 0.9653f, -0.1517f, 1.5508f,
                    0.4134f, -0.0715f, 0.5517f, -0.3632f, -0.1922f, -0.9497f, 0.2503f, -0.2921f},
            new float[]{2.8184f, 1.4541f, 2.3275f, 2.6558f, 1.2196f, 1.7708f, 2.6052f, 2.0743f,
                    3.2687f, 2.1526f, 2.8652f, 1.5579f, 1.6382f, 1.1253f, 2.8251f, 1.9160f});

    public LatentScale {
        mean = mean.clone();
        std = std.clone();
        if (mean.length != std.length)
            throw new IllegalArgumentException("latent mean has " + mean.length + " channels but std has " + std.length);
        for (float s : std)
            if (!(s > 0) || !Float.isFinite(s))
                throw new IllegalArgumentException("latent std values must be positive and finite, got " + Arrays.toString(std));
        for (float m : mean)
            if (!Float.isFinite(m)) throw new IllegalArgumentException("latent mean values must be finite, got " + Arrays.toString(mean));
    }

    @Override public float[] mean() { return mean.clone(); }

    @Override public float[] std() { return std.clone(); }

    public int channels() { return mean.length; }

    /**
     * The normalisation named in a VAE config JSON by {@code latents_mean} and {@code latents_std}
     * (the field names of diffusers' AutoencoderKLWan config), or {@link #WAN21} when both are absent.
     */
    public static LatentScale fromConfigJson(String json) {
        JsonNode n;
        try {
            n = json == null ? null : Json.MAPPER.readTree(json);
        } catch (JacksonException e) {
            throw new IllegalArgumentException("VAE config is not valid JSON (" + e.getOriginalMessage() + "): " + json, e);
        }
        if (n == null || !n.isObject() || (!n.has("latents_mean") && !n.has("latents_std"))) return WAN21;
        if (!n.has("latents_mean") || !n.has("latents_std"))
            throw new IllegalArgumentException("VAE config gives only one of latents_mean and latents_std; give both or neither");
        return new LatentScale(floats(n.get("latents_mean")), floats(n.get("latents_std")));
    }

    private static float[] floats(JsonNode a) {
        float[] out = new float[a.size()];
        for (int i = 0; i < out.length; i++) out[i] = (float) a.get(i).asDouble();
        return out;
    }

    @Override public boolean equals(Object o) {
        return o instanceof LatentScale(float[] m, float[] s) && Arrays.equals(m, mean) && Arrays.equals(s, std);
    }

    @Override public int hashCode() { return 31 * Arrays.hashCode(mean) + Arrays.hashCode(std); }

    @Override public String toString() { return "LatentScale[mean=" + Arrays.toString(mean) + ", std=" + Arrays.toString(std) + "]"; }
}
