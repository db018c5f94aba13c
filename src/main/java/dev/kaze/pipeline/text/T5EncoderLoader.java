package dev.kaze.pipeline.text;

import dev.kaze.tensor.Checkpoint;
import dev.kaze.tensor.TensorSource;
import dev.kaze.tensor.TensorSpec;
import dev.kaze.tensor.Weights;
import dev.kaze.tensor.WeightsException;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Builds a {@link T5Encoder} from checkpoint tensors. Reads Wan's key names
 * ({@code models_t5_umt5-xxl-enc-bf16.pth} and its safetensors repacks) and, through a renaming
 * view, the HF/ComfyUI names of {@code umt5_xxl_*.safetensors}. The only place T5 key strings
 * appear.
 */
public final class T5EncoderLoader {
    private T5EncoderLoader() {}

    /** Metadata key holding the config JSON in Kaze's (and the parity fixtures') T5 files. */
    public static final String CONFIG_METADATA = "config";

    /**
     * Opens a T5 checkpoint (.pth or .safetensors, either key layout) and builds the encoder on
     * {@code device} with weights in {@code dtype}. The config comes from the file's metadata, or
     * is read off the tensor shapes when the file has none (ComfyUI repacks).
     */
    public static T5Encoder open(Path file, Device device, ScalarType dtype) {
        try (TensorSource stored = TensorSource.open(file)) {
            TensorSource source = wanKeys(stored);
            String json = stored instanceof Checkpoint c ? c.metadata().get(CONFIG_METADATA) : null;
            T5Config config;
            try {
                config = json != null ? T5Config.fromJson(json, file.toString()) : inferConfig(source);
            } catch (IllegalArgumentException e) {
                throw new WeightsException(e.getMessage(), e);
            }
            return load(new Weights(source, device), config, dtype);
        }
    }

    /**
     * Builds the encoder from Wan-named tensors (wrap other layouts with {@link #wanKeys} before
     * making the {@link Weights}). Every tensor is converted to {@code dtype} on the weights'
     * device. Fails, naming every key, on a missing key, a wrong shape or a key the model does
     * not use ({@link Weights#finish()}).
     */
    public static T5Encoder load(Weights weights, T5Config config, ScalarType dtype) {
        Taker take = new Taker(weights, dtype);
        try {
            long vocab = config.vocab(), dim = config.dim(), dimAttn = config.dimAttn(), dimFfn = config.dimFfn();
            long buckets = config.numBuckets(), heads = config.numHeads();
            Tensor tokenEmbedding = take.t("token_embedding.weight", vocab, dim);
            Tensor sharedPos = config.sharedPos() ? take.t("pos_embedding.embedding.weight", buckets, heads) : null;
            List<T5Encoder.Block> blocks = new ArrayList<>();
            for (int i = 0; i < config.numLayers(); i++) {
                String p = "blocks." + i + ".";
                blocks.add(new T5Encoder.Block(
                        take.t(p + "norm1.weight", dim),
                        take.t(p + "attn.q.weight", dimAttn, dim),
                        take.t(p + "attn.k.weight", dimAttn, dim),
                        take.t(p + "attn.v.weight", dimAttn, dim),
                        take.t(p + "attn.o.weight", dim, dimAttn),
                        config.sharedPos() ? null : take.t(p + "pos_embedding.embedding.weight", buckets, heads),
                        take.t(p + "norm2.weight", dim),
                        take.t(p + "ffn.gate.0.weight", dimFfn, dim),
                        take.t(p + "ffn.fc1.weight", dimFfn, dim),
                        take.t(p + "ffn.fc2.weight", dim, dimFfn)));
            }
            Tensor norm = take.t("norm.weight", dim);
            weights.finish();
            return new T5Encoder(config, tokenEmbedding, sharedPos, blocks, norm, take.owned);
        } catch (RuntimeException e) {
            take.release();
            throw e;
        }
    }

    /** Takes each tensor in its own scope, so load-time copies die at once and the result stays owned. */
    private static final class Taker {
        final Weights weights;
        final ScalarType dtype;
        final List<Tensor> owned = new ArrayList<>();

        Taker(Weights weights, ScalarType dtype) {
            this.weights = weights;
            this.dtype = dtype;
        }

        Tensor t(String key, long... shape) {
            try (PointerScope ignored = new PointerScope()) {
                Tensor t = weights.take(key, dtype, shape);
                t.retainReference();
                owned.add(t);
                return t;
            }
        }

        void release() {
            owned.forEach(Tensor::releaseReference);
            owned.clear();
        }
    }

    /**
     * The config read off the tensor shapes of a Wan-named source (files without a config, e.g.
     * ComfyUI's umt5_xxl_fp16.safetensors). eps is T5LayerNorm's default.
     */
    public static T5Config inferConfig(TensorSource source) {
        TensorSpec embedding = required(source, "token_embedding.weight");
        TensorSpec q = required(source, "blocks.0.attn.q.weight");
        TensorSpec fc1 = required(source, "blocks.0.ffn.fc1.weight");
        TensorSpec perBlockPos = source.spec("blocks.0.pos_embedding.embedding.weight");
        TensorSpec pos = perBlockPos != null ? perBlockPos : required(source, "pos_embedding.embedding.weight");
        int layers = 0;
        while (source.spec("blocks." + layers + ".attn.q.weight") != null) layers++;
        return new T5Config(dim(embedding, 0), dim(embedding, 1), dim(q, 0), dim(fc1, 0), dim(pos, 1), layers,
                dim(pos, 0), perBlockPos == null, T5Config.DEFAULT_EPS);
    }

    private static TensorSpec required(TensorSource source, String key) {
        TensorSpec s = source.spec(key);
        if (s == null)
            throw new WeightsException(source.describe() + " has no '" + key + "' and no config metadata, so it is not a "
                    + "umT5 text encoder Kaze can read (expected Wan names like models_t5_umt5-xxl-enc-bf16.pth, or "
                    + "HF/ComfyUI names like umt5_xxl_fp16.safetensors)");
        return s;
    }

    private static int dim(TensorSpec s, int i) {
        long[] shape = s.shape();
        if (shape.length <= i) throw new WeightsException("T5 tensor of shape " + s + " has no dimension " + i);
        return Math.toIntExact(shape[i]);
    }

    // ---- key layouts ----

    private static final String HF_BLOCK = "encoder\\.block\\.(\\d+)\\.";
    /** HF/ComfyUI name pattern → Wan name template ($1 = block index, $2 = projection). */
    private static final List<Map.Entry<Pattern, String>> HF_TO_WAN = List.of(
            Map.entry(Pattern.compile("shared\\.weight"), "token_embedding.weight"),
            Map.entry(Pattern.compile(HF_BLOCK + "layer\\.0\\.layer_norm\\.weight"), "blocks.$1.norm1.weight"),
            Map.entry(Pattern.compile(HF_BLOCK + "layer\\.0\\.SelfAttention\\.([qkvo])\\.weight"), "blocks.$1.attn.$2.weight"),
            Map.entry(Pattern.compile(HF_BLOCK + "layer\\.0\\.SelfAttention\\.relative_attention_bias\\.weight"),
                    "blocks.$1.pos_embedding.embedding.weight"),
            Map.entry(Pattern.compile(HF_BLOCK + "layer\\.1\\.layer_norm\\.weight"), "blocks.$1.norm2.weight"),
            Map.entry(Pattern.compile(HF_BLOCK + "layer\\.1\\.DenseReluDense\\.wi_0\\.weight"), "blocks.$1.ffn.gate.0.weight"),
            Map.entry(Pattern.compile(HF_BLOCK + "layer\\.1\\.DenseReluDense\\.wi_1\\.weight"), "blocks.$1.ffn.fc1.weight"),
            Map.entry(Pattern.compile(HF_BLOCK + "layer\\.1\\.DenseReluDense\\.wo\\.weight"), "blocks.$1.ffn.fc2.weight"),
            Map.entry(Pattern.compile("encoder\\.final_layer_norm\\.weight"), "norm.weight"));
    private static final String HF_TIED_EMBEDDING = "encoder.embed_tokens.weight";
    private static final String HF_TOKENIZER = "spiece_model";
    private static final String COMFY_SCALED_FP8 = "scaled_fp8";

    /**
     * The source under Wan's key names: itself when it already uses them, else a renaming view
     * of the HF/ComfyUI names. The view drops {@code spiece_model} (the tokenizer, not a weight)
     * and the tied copy {@code encoder.embed_tokens.weight}; keys it does not know keep their
     * names, so loading reports them.
     */
    public static TensorSource wanKeys(TensorSource source) {
        if (source.spec(COMFY_SCALED_FP8) != null)
            throw new WeightsException(source.describe() + " is a ComfyUI fp8 'scaled' text encoder (it has '"
                    + COMFY_SCALED_FP8 + "'); Kaze does not apply its scale_weight factors. Use umt5_xxl_fp16.safetensors "
                    + "or Wan's models_t5_umt5-xxl-enc-bf16.pth instead");
        boolean hf = source.spec(HF_TIED_EMBEDDING) != null
                || source.keys().stream().anyMatch(k -> k.equals("shared.weight") || k.startsWith("encoder.block."));
        return hf ? new HfNames(source) : source;
    }

    /** HF/ComfyUI umT5 names seen as Wan names. */
    private static final class HfNames implements TensorSource {
        private final TensorSource source;
        private final Map<String, String> storedName = new LinkedHashMap<>();

        HfNames(TensorSource source) {
            this.source = source;
            boolean hasShared = source.spec("shared.weight") != null;
            for (String k : source.keys()) {
                if (k.equals(HF_TOKENIZER)) continue;
                if (k.equals(HF_TIED_EMBEDDING)) {
                    if (hasShared && source.spec(k).equals(source.spec("shared.weight"))) continue;  // tied copy
                    if (!hasShared) {
                        storedName.put("token_embedding.weight", k);
                        continue;
                    }
                }
                storedName.putIfAbsent(wanName(k), k);
            }
        }

        private static String wanName(String hfName) {
            for (var e : HF_TO_WAN) {
                Matcher m = e.getKey().matcher(hfName);
                if (m.matches()) return m.replaceFirst(e.getValue());
            }
            return hfName;
        }

        @Override public Set<String> keys() { return Collections.unmodifiableSet(storedName.keySet()); }

        @Override public TensorSpec spec(String key) {
            String stored = storedName.get(key);
            return stored == null ? null : source.spec(stored);
        }

        @Override public Tensor load(String key) {
            String stored = storedName.get(key);
            if (stored == null) throw new WeightsException(describe() + " has no tensor for '" + key + "'");
            return source.load(stored);
        }

        @Override public String origin(String key) {
            String stored = storedName.get(key);
            return stored == null ? source.describe() : source.origin(stored) + " (stored as '" + stored + "')";
        }

        @Override public String describe() { return source.describe() + " (HF/ComfyUI umT5 key names)"; }

        @Override public void close() { source.close(); }
    }
}
