// Port of wan/modules/vae.py, the WanVAE_ constructor arguments (and _video_vae's Wan2.1 preset)
package dev.kaze.pipeline.vae;

import dev.kaze.json.Json;
import dev.kaze.tensor.TensorSource;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.List;

/**
 * Shape of a Wan VAE: base width {@code dim}, latent channels {@code zDim}, width multipliers per
 * stage, residual blocks per stage, the scales that get an attention block, and which stage
 * transitions halve time in the encoder (the decoder doubles time at the mirrored ones).
 */
public record VaeConfig(int dim, int zDim, List<Integer> dimMult, int numResBlocks, List<Double> attnScales,
                        List<Boolean> temperalDownsample) {
    public VaeConfig {
        dimMult = List.copyOf(dimMult);
        attnScales = List.copyOf(attnScales);
        temperalDownsample = List.copyOf(temperalDownsample);
        if (dim <= 0 || dim % 2 != 0)
            throw new IllegalArgumentException("VAE dim must be a positive even number, got " + dim);
        if (zDim <= 0) throw new IllegalArgumentException("VAE z_dim must be positive, got " + zDim);
        if (dimMult.size() < 2 || dimMult.stream().anyMatch(m -> m <= 0))
            throw new IllegalArgumentException("VAE dim_mult needs at least two positive multipliers, got " + dimMult);
        if (numResBlocks < 1)
            throw new IllegalArgumentException("VAE num_res_blocks must be at least 1, got " + numResBlocks);
        if (temperalDownsample.size() != dimMult.size() - 1)
            throw new IllegalArgumentException("VAE temperal_downsample needs one flag per stage transition ("
                    + (dimMult.size() - 1) + " for dim_mult " + dimMult + "), got " + temperalDownsample);
    }

    /** The Wan2.1 VAE (Wan2.1_VAE.pth, wan_2.1_vae.safetensors): wan/modules/vae.py _video_vae. */
    public static VaeConfig wan21() {
        return new VaeConfig(96, 16, List.of(1, 2, 4, 4), 2, List.of(), List.of(false, true, true));
    }

    /** The decoder's temporal upsampling flags: the encoder's flags reversed. */
    public List<Boolean> temperalUpsample() { return temperalDownsample.reversed(); }

    /** Pixels per latent frame step: 2 per temporal downsampling stage (4 for Wan2.1). */
    public int temporalStride() {
        int s = 1;
        for (boolean b : temperalDownsample) if (b) s *= 2;
        return s;
    }

    /** Pixels per latent pixel: 2 per stage transition (8 for Wan2.1). */
    public int spatialStride() { return 1 << (dimMult.size() - 1); }

    /**
     * The config stored as JSON (the {@code config} entry of a checkpoint's metadata, e.g.
     * {@code {"dim": 96, "z_dim": 16, ...}}); fields left out take the Wan2.1 values.
     */
    public static VaeConfig fromJson(String json) {
        JsonNode n;
        try {
            n = Json.MAPPER.readTree(json);
        } catch (JacksonException e) {
            throw new IllegalArgumentException("VAE config is not valid JSON (" + e.getOriginalMessage() + "): " + json, e);
        }
        if (n == null || !n.isObject()) throw new IllegalArgumentException("VAE config must be a JSON object, got: " + json);
        VaeConfig d = wan21();
        return new VaeConfig(
                n.has("dim") ? n.get("dim").asInt() : d.dim(),
                n.has("z_dim") ? n.get("z_dim").asInt() : d.zDim(),
                n.has("dim_mult") ? ints(n.get("dim_mult")) : d.dimMult(),
                n.has("num_res_blocks") ? n.get("num_res_blocks").asInt() : d.numResBlocks(),
                n.has("attn_scales") ? doubles(n.get("attn_scales")) : d.attnScales(),
                n.has("temperal_downsample") ? bools(n.get("temperal_downsample")) : d.temperalDownsample());
    }

    private static List<Integer> ints(JsonNode a) {
        List<Integer> out = new ArrayList<>();
        for (JsonNode v : a) out.add(v.asInt());
        return out;
    }

    private static List<Double> doubles(JsonNode a) {
        List<Double> out = new ArrayList<>();
        for (JsonNode v : a) out.add(v.asDouble());
        return out;
    }

    private static List<Boolean> bools(JsonNode a) {
        List<Boolean> out = new ArrayList<>();
        for (JsonNode v : a) out.add(v.asBoolean());
        return out;
    }

    /**
     * Reads the configuration off a checkpoint's tensor shapes (the official Wan2.1_VAE.pth carries
     * none): dim from encoder.conv1, z_dim from conv2, the stage layout from the encoder's
     * residual blocks and resamples (a resample with a time_conv downsamples time).
     */
    public static VaeConfig detect(TensorSource source) {
        var conv1 = source.spec("encoder.conv1.weight");
        var conv2 = source.spec("conv2.weight");
        if (conv1 == null || conv2 == null)
            throw new IllegalArgumentException(source.describe() + " is not a Wan2.1 VAE checkpoint: it lacks encoder.conv1.weight or conv2.weight");
        int dim = (int) conv1.shape()[0];
        int zDim = (int) conv2.shape()[0];
        List<Integer> mult = new ArrayList<>();
        List<Boolean> temporal = new ArrayList<>();
        int resBlocks = -1, inStage = 0;
        for (int i = 0; ; i++) {
            String p = "encoder.downsamples." + i + ".";
            var res = source.spec(p + "residual.2.weight");
            if (res != null) {
                if (inStage == 0) mult.add((int) (res.shape()[0] / dim));
                inStage++;
            } else if (source.spec(p + "resample.1.weight") != null) {
                if (resBlocks < 0) resBlocks = inStage;
                temporal.add(source.spec(p + "time_conv.weight") != null);
                inStage = 0;
            } else break;
        }
        if (resBlocks < 0) resBlocks = inStage;
        // the last stage's multiplier repeats the channels of the middle block
        return new VaeConfig(dim, zDim, mult, resBlocks, List.of(), temporal);
    }
}
