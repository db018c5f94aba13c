package dev.kaze.pipeline.text;

import dev.kaze.json.Json;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;

/**
 * Shape of a umT5-style encoder (the arguments of Wan's {@code T5Encoder}). Read from a
 * checkpoint's metadata JSON {@code config} (Wan field names, or the HF/ComfyUI ones), or the
 * {@link #UMT5_XXL} preset of {@code models_t5_umt5-xxl-enc-bf16.pth}.
 *
 * @param vocab      token embedding rows
 * @param dim        model width
 * @param dimAttn    width of q/k/v (numHeads × head dim)
 * @param dimFfn     hidden width of the gated FFN
 * @param numHeads   attention heads
 * @param numLayers  encoder blocks
 * @param numBuckets relative position buckets (bidirectional: half per direction)
 * @param sharedPos  one relative position table for all blocks (T5) instead of one per block (umT5)
 * @param eps        T5LayerNorm epsilon
 */
public record T5Config(int vocab, int dim, int dimAttn, int dimFfn, int numHeads, int numLayers, int numBuckets,
                       boolean sharedPos, double eps) {
    /** The default epsilon of T5LayerNorm. */
    public static final double DEFAULT_EPS = 1e-6;

    /** umT5-XXL as Wan2.1 uses it (wan/modules/t5.py, umt5_xxl). */
    public static final T5Config UMT5_XXL = new T5Config(256384, 4096, 4096, 10240, 64, 24, 32, false, DEFAULT_EPS);

    public T5Config {
        positive("vocab", vocab);
        positive("dim", dim);
        positive("dim_attn", dimAttn);
        positive("dim_ffn", dimFfn);
        positive("num_heads", numHeads);
        positive("num_layers", numLayers);
        if (dimAttn % numHeads != 0)
            throw new IllegalArgumentException("T5 config: dim_attn " + dimAttn + " must be a multiple of num_heads "
                    + numHeads + " (dim_attn = num_heads × head_dim)");
        if (numBuckets < 4)
            throw new IllegalArgumentException("T5 config: num_buckets must be at least 4 (umT5 uses 32), got " + numBuckets);
        if (!(eps > 0) || !Double.isFinite(eps))
            throw new IllegalArgumentException("T5 config: eps must be a positive finite number (umT5 uses 1e-6), got " + eps);
    }

    private static void positive(String name, int value) {
        if (value <= 0) throw new IllegalArgumentException("T5 config: " + name + " must be positive, got " + value);
    }

    /** Width of one attention head. */
    public int headDim() { return dimAttn / numHeads; }

    /**
     * Parses a config object. Wan names ({@code vocab, dim, dim_attn, dim_ffn, num_heads, num_layers,
     * num_buckets, shared_pos, eps}; {@code vocab_size}/{@code encoder_layers} also accepted) or HF
     * names ({@code vocab_size, d_model, d_kv, d_ff, num_heads, num_layers,
     * relative_attention_num_buckets, layer_norm_epsilon, model_type}).
     *
     * @param origin where the JSON comes from, for error messages
     */
    public static T5Config fromJson(String json, String origin) {
        JsonNode n;
        try {
            n = Json.MAPPER.readTree(json);
        } catch (JacksonException e) {
            throw new IllegalArgumentException("T5 config in " + origin + " is not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (n == null || !n.isObject()) throw new IllegalArgumentException("T5 config in " + origin + " is not a JSON object");
        try {
            if (n.has("d_model")) {
                int numHeads = integer(n, origin, "num_heads");
                return new T5Config(integer(n, origin, "vocab_size"), integer(n, origin, "d_model"),
                        integer(n, origin, "d_kv") * numHeads, integer(n, origin, "d_ff"), numHeads,
                        integer(n, origin, "num_layers"), integer(n, origin, "relative_attention_num_buckets"),
                        !"umt5".equals(n.path("model_type").asString("t5")),
                        n.has("layer_norm_epsilon") ? n.get("layer_norm_epsilon").asDouble() : DEFAULT_EPS);
            }
            return new T5Config(integer(n, origin, "vocab", "vocab_size"), integer(n, origin, "dim"),
                    integer(n, origin, "dim_attn"), integer(n, origin, "dim_ffn"), integer(n, origin, "num_heads"),
                    integer(n, origin, "num_layers", "encoder_layers"), integer(n, origin, "num_buckets"),
                    n.has("shared_pos") && n.get("shared_pos").asBoolean(),
                    n.has("eps") ? n.get("eps").asDouble() : DEFAULT_EPS);
        } catch (IllegalArgumentException e) {
            if (e.getMessage().contains(origin)) throw e;
            throw new IllegalArgumentException(e.getMessage() + " (in " + origin + ")", e);
        }
    }

    private static int integer(JsonNode n, String origin, String... names) {
        for (String name : names) {
            JsonNode v = n.get(name);
            if (v == null) continue;
            if (!v.isIntegralNumber() || !v.canConvertToInt())
                throw new IllegalArgumentException("T5 config in " + origin + ": '" + name + "' must be an integer, got " + v);
            return v.asInt();
        }
        throw new IllegalArgumentException("T5 config in " + origin + " has no '" + names[0] + "'");
    }
}
