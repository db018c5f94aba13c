package dev.kaze.pipeline.dit;

import dev.kaze.json.Json;
import dev.kaze.tensor.TensorSource;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * The WanModel configuration, with the fields of the official {@code config.json}.
 * Only text-to-video ({@code model_type "t2v"}) is supported.
 */
public record DitConfig(int[] patchSize, int textLen, int inDim, int dim, int ffnDim, int freqDim, int textDim,
                        int outDim, int numHeads, int numLayers, boolean qkNorm, boolean crossAttnNorm, double eps) {

    /** Wan2.1-T2V-14B. */
    public static final DitConfig WAN_14B = new DitConfig(new int[]{1, 2, 2}, 512, 16, 5120, 13824, 256, 4096, 16, 40, 40, true, true, 1e-6);
    /** Wan2.1-T2V-1.3B. */
    public static final DitConfig WAN_1_3B = new DitConfig(new int[]{1, 2, 2}, 512, 16, 1536, 8960, 256, 4096, 16, 12, 30, true, true, 1e-6);

    public DitConfig {
        if (patchSize == null || patchSize.length != 3 || Arrays.stream(patchSize).anyMatch(p -> p < 1))
            throw new IllegalArgumentException("patch_size must be three positive integers (t, h, w), got " + Arrays.toString(patchSize));
        patchSize = patchSize.clone();
        positive("text_len", textLen); positive("in_dim", inDim); positive("dim", dim); positive("ffn_dim", ffnDim);
        positive("freq_dim", freqDim); positive("text_dim", textDim); positive("out_dim", outDim);
        positive("num_heads", numHeads); positive("num_layers", numLayers);
        if (freqDim % 2 != 0) throw new IllegalArgumentException("freq_dim must be even, got " + freqDim);
        if (dim % numHeads != 0)
            throw new IllegalArgumentException("dim (" + dim + ") must be divisible by num_heads (" + numHeads + ")");
        if ((dim / numHeads) % 2 != 0)
            throw new IllegalArgumentException("head dimension dim/num_heads = " + dim / numHeads + " must be even for RoPE");
        if (!(eps > 0)) throw new IllegalArgumentException("eps must be positive, got " + eps);
    }

    private static void positive(String name, int v) {
        if (v <= 0) throw new IllegalArgumentException(name + " must be positive, got " + v);
    }

    @Override public int[] patchSize() { return patchSize.clone(); }

    public int headDim() { return dim / numHeads; }

    /** Features per output token: prod(patch_size) * out_dim. */
    public int patchFeatures() { return patchSize[0] * patchSize[1] * patchSize[2] * outDim; }

    /** Reads a config.json of the official format. */
    public static DitConfig read(Path configJson) {
        try {
            return fromJson(Files.readString(configJson));
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read DiT config " + configJson + ": " + e.getMessage(), e);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("DiT config " + configJson + ": " + e.getMessage(), e);
        }
    }

    public static DitConfig fromJson(String json) {
        JsonNode n;
        try {
            n = Json.MAPPER.readTree(json);
        } catch (JacksonException e) {
            throw new IllegalArgumentException("DiT config is not valid JSON: " + e.getOriginalMessage(), e);
        }
        String type = n.has("model_type") ? n.get("model_type").asString() : "t2v";
        if (!type.equals("t2v"))
            throw new IllegalArgumentException("model_type '" + type + "' is not supported; Kaze runs text-to-video (t2v) models");
        JsonNode ws = n.get("window_size");
        if (ws != null && ws.isArray() && (ws.get(0).asInt() != -1 || ws.get(1).asInt() != -1))
            throw new IllegalArgumentException("window_size " + ws + " is not supported; Wan2.1 uses global attention (-1, -1)");
        JsonNode ps = n.get("patch_size");
        int[] patch = ps == null ? new int[]{1, 2, 2} : new int[]{ps.get(0).asInt(), ps.get(1).asInt(), ps.get(2).asInt()};
        return new DitConfig(patch,
                intOr(n, "text_len", 512), intOr(n, "in_dim", 16), intOr(n, "dim", 2048), intOr(n, "ffn_dim", 8192),
                intOr(n, "freq_dim", 256), intOr(n, "text_dim", 4096), intOr(n, "out_dim", 16),
                intOr(n, "num_heads", 16), intOr(n, "num_layers", 32),
                !n.has("qk_norm") || n.get("qk_norm").asBoolean(),
                !n.has("cross_attn_norm") || n.get("cross_attn_norm").asBoolean(),
                n.has("eps") ? n.get("eps").asDouble() : 1e-6);
    }

    /**
     * Reads the configuration off a checkpoint's tensor shapes (ComfyUI single files carry no
     * config.json): dim from head.modulation, heads = dim/128, ffn_dim, layers, in/out/text/freq dims.
     */
    public static DitConfig detect(TensorSource source) {
        var mod = source.spec("head.modulation");
        if (mod == null)
            throw new IllegalArgumentException(source.describe() + " is not a Wan2.1 DiT checkpoint: it has no head.modulation tensor");
        if (source.keys().stream().anyMatch(k -> k.startsWith("img_emb.")))
            throw new IllegalArgumentException(source.describe() + " is an image-to-video DiT (it has img_emb.*); Kaze runs text-to-video models");
        int dim = (int) last(mod.shape());
        int layers = (int) source.keys().stream().filter(k -> k.startsWith("blocks."))
                .map(k -> k.substring(7, k.indexOf('.', 7))).distinct().count();
        long[] patch = dim(source, "patch_embedding.weight");
        int outDim = (int) dim(source, "head.head.weight")[0] / (int) (patch[2] * patch[3] * patch[4]);
        return new DitConfig(new int[]{(int) patch[2], (int) patch[3], (int) patch[4]}, 512, (int) patch[1], dim,
                (int) dim(source, "blocks.0.ffn.0.weight")[0], (int) dim(source, "time_embedding.0.weight")[1],
                (int) dim(source, "text_embedding.0.weight")[1], outDim, dim / 128, layers,
                source.spec("blocks.0.self_attn.norm_q.weight") != null, source.spec("blocks.0.norm3.weight") != null, 1e-6);
    }

    private static long[] dim(TensorSource source, String key) {
        var spec = source.spec(key);
        if (spec == null) throw new IllegalArgumentException(source.describe() + " has no tensor '" + key + "'; it is not a complete Wan2.1 DiT");
        return spec.shape();
    }

    private static long last(long[] shape) { return shape[shape.length - 1]; }

    private static int intOr(JsonNode n, String key, int fallback) {
        JsonNode v = n.get(key);
        if (v == null) return fallback;
        if (!v.isIntegralNumber()) throw new IllegalArgumentException(key + " must be an integer, got " + v);
        return v.asInt();
    }

    @Override public boolean equals(Object o) {
        return o instanceof DitConfig c && Arrays.equals(c.patchSize, patchSize) && c.textLen == textLen && c.inDim == inDim
                && c.dim == dim && c.ffnDim == ffnDim && c.freqDim == freqDim && c.textDim == textDim && c.outDim == outDim
                && c.numHeads == numHeads && c.numLayers == numLayers && c.qkNorm == qkNorm
                && c.crossAttnNorm == crossAttnNorm && c.eps == eps;
    }

    @Override public int hashCode() { return Arrays.hashCode(patchSize) * 31 + dim * 7 + numLayers; }

    @Override public String toString() {
        return "DitConfig[dim=" + dim + ", ffn_dim=" + ffnDim + ", heads=" + numHeads + ", layers=" + numLayers
                + ", text_len=" + textLen + ", patch=" + Arrays.toString(patchSize) + "]";
    }
}
