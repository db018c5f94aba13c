// Port of wan/modules/model.py, WanModel (t2v).
package dev.kaze.pipeline.dit;

import dev.kaze.pipeline.guidance.Nag;
import dev.kaze.tensor.Linear;
import dev.kaze.tensor.Ops;
import dev.kaze.tensor.OwnedTensors;
import dev.kaze.tensor.TensorSource;
import dev.kaze.tensor.WeightStorage;
import dev.kaze.tensor.Weights;
import dev.kaze.tensor.WeightsException;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorArrayRefOptional;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

import static dev.kaze.tensor.Ops.cat;
import static dev.kaze.tensor.Ops.f32;
import static dev.kaze.tensor.Ops.s;

/**
 * The Wan2.1 diffusion transformer. Block Linears, the patch and text embeddings compute in the
 * compute dtype (float32 on the CPU, bfloat16 on a GPU); the time embedding, modulation, norms,
 * RoPE, the residual stream and the head stay in float32 / float64 as in the reference.
 */
public final class WanDit implements AutoCloseable {
    private final DitConfig config;
    private final ScalarType dtype;
    private final OwnedTensors weights;
    private final Tensor patchWeight, patchBias;    // [C, in, pt, ph, pw], [C]
    private final Linear textEmbedding0, textEmbedding2, timeEmbedding0, timeEmbedding2, timeProjection;
    private final List<WanAttentionBlock> blocks;
    private final Head head;
    private final RopeFreqs rope;
    private final Map<String, Tensor> parameters;   // checkpoint key -> the tensor the model computes with
    private final Map<String, Linear> blockLinears;  // "blocks.N.self_attn.q.weight" ... -> its Linear
    private final BlockSwap swap;                              // null when every block is resident

    /** Takes one block Linear (path relative to the block) and records it by its weight key. */
    @FunctionalInterface
    private interface BlockLinear { Linear of(String path, long in, long out); }

    /** Takes one attention layer's projections and norms (module path relative to the block: "self_attn", "cross_attn"). */
    @FunctionalInterface
    private interface BlockAttention { AttentionProjections of(String module); }

    private WanDit(DitConfig config, ScalarType dtype, OwnedTensors weights, Map<String, Tensor> parameters,
                   Map<String, Linear> blockLinears, Tensor patchWeight, Tensor patchBias,
                   Linear textEmbedding0, Linear textEmbedding2, Linear timeEmbedding0, Linear timeEmbedding2,
                   Linear timeProjection, List<WanAttentionBlock> blocks, Head head, BlockSwap swap) {
        this.config = config;
        this.swap = swap;
        this.dtype = dtype;
        this.weights = weights;
        this.parameters = Map.copyOf(parameters);
        this.blockLinears = Map.copyOf(blockLinears);
        this.patchWeight = patchWeight;
        this.patchBias = patchBias;
        this.textEmbedding0 = textEmbedding0;
        this.textEmbedding2 = textEmbedding2;
        this.timeEmbedding0 = timeEmbedding0;
        this.timeEmbedding2 = timeEmbedding2;
        this.timeProjection = timeProjection;
        this.blocks = List.copyOf(blocks);
        this.head = head;
        this.rope = new RopeFreqs(config.headDim());
    }

    /**
     * Builds the model from a checkpoint with the official key names, checking every key and
     * shape; throws {@link WeightsException} listing all missing, misshapen and unexpected keys.
     * Block weights a checkpoint stores as float8 stay float8.
     */
    public static WanDit load(DitConfig cfg, TensorSource source, Device device, DitOptions options) {
        return build(cfg, new Weights(source, device), options);
    }

    /**
     * Builds the model from weights (a checkpoint's, or generated ones for the preview model), the
     * Linear weights of the last {@link DitOptions#blocksToSwap} blocks taken into host memory and
     * swapped in per block (see {@link BlockSwap}).
     */
    public static WanDit build(DitConfig cfg, Weights w, DitOptions options) {
        ScalarType dtype = options.dtype();
        WeightStorage storage = options.storage();
        int blocksToSwap = options.blocksToSwap();
        if (blocksToSwap < 0 || blocksToSwap > cfg.numLayers())
            throw new IllegalArgumentException("blocks to swap is " + blocksToSwap + "; use 0.." + cfg.numLayers() + " for this model");
        if (blocksToSwap > 0) w.onHost(BlockSwap.hostKeys(cfg.numLayers(), blocksToSwap));
        try (PointerScope scope = new PointerScope()) {
            w.skip("scaled_fp8");   // marker of ComfyUI's scaled float8 repacks: its scales are read per Linear
            ScalarType f32 = ScalarType.Float;
            long c = cfg.dim(), ffn = cfg.ffnDim();
            int[] p = cfg.patchSize();
            Tensor patchWeight = w.take("patch_embedding.weight", dtype, c, cfg.inDim(), p[0], p[1], p[2]);
            Tensor patchBias = w.take("patch_embedding.bias", dtype, c);
            Linear text0 = Linear.take(w, "text_embedding.0", cfg.textDim(), c, true, dtype);
            Linear text2 = Linear.take(w, "text_embedding.2", c, c, true, dtype);
            Linear time0 = Linear.take(w, "time_embedding.0", cfg.freqDim(), c, true, f32);
            Linear time2 = Linear.take(w, "time_embedding.2", c, c, true, f32);
            Linear proj = Linear.take(w, "time_projection.1", c, 6 * c, true, f32);
            List<WanAttentionBlock> blocks = new ArrayList<>();
            Map<String, Linear> blockLinears = new LinkedHashMap<>();
            for (int i = 0; i < cfg.numLayers(); i++) {
                String b = "blocks." + i + ".";
                BlockLinear take = (path, in, out) -> {
                    Linear l = Linear.take(w, b + path, in, out, true, dtype, storage);
                    blockLinears.put(b + path + ".weight", l);
                    return l;
                };
                BlockAttention attention = module -> new AttentionProjections(
                        take.of(module + ".q", c, c), take.of(module + ".k", c, c),
                        take.of(module + ".v", c, c), take.of(module + ".o", c, c),
                        cfg.qkNorm() ? new WanRmsNorm(w.take(b + module + ".norm_q.weight", f32, c), cfg.eps()) : null,
                        cfg.qkNorm() ? new WanRmsNorm(w.take(b + module + ".norm_k.weight", f32, c), cfg.eps()) : null,
                        cfg.numHeads());
                WanSelfAttention sa = new WanSelfAttention(attention.of("self_attn"));
                Tensor n3w = cfg.crossAttnNorm() ? w.take(b + "norm3.weight", f32, c) : null;
                Tensor n3b = cfg.crossAttnNorm() ? w.take(b + "norm3.bias", f32, c) : null;
                WanCrossAttention ca = new WanCrossAttention(attention.of("cross_attn"));
                blocks.add(new WanAttentionBlock(w.take(b + "modulation", f32, 1, 6, c), sa, n3w, n3b, ca,
                        take.of("ffn.0", c, ffn), take.of("ffn.2", ffn, c),
                        cfg.eps()));
            }
            Head head = new Head(w.take("head.modulation", f32, 1, 2, c),
                    Linear.take(w, "head.head", c, cfg.patchFeatures(), true, f32), cfg.eps());
            w.finish();
            BlockSwap swap = blocksToSwap > 0 ? new BlockSwap(blocks, blocksToSwap, w.device()) : null;
            return new WanDit(cfg, dtype, w.keep(), w.named(), blockLinears, patchWeight, patchBias, text0, text2, time0, time2, proj, blocks, head, swap);
        }
    }

    /**
     * A view of this model in which every block Linear named by its module path ("blocks.0.self_attn.q",
     * "blocks.0.cross_attn.o", "blocks.3.ffn.2", ...) adds {@code adapterFor.apply(path)} to its output
     * (unmerged LoRA for training); a null adapter leaves that Linear as is. The view shares this model's
     * weights and does not own them: close this model, not the view, and not before the view's last use.
     * With swapped blocks the view swaps them through the same slots (see {@link BlockSwap#withAdapters}).
     * An adapted float8 Linear always upcasts its weight (never {@code _scaled_mm}, which has no
     * gradient), so a block computes the same in its forward pass and in its recomputation.
     */
    public WanDit withBlockAdapters(Function<String, Linear.Adapter> adapterFor) {
        List<WanAttentionBlock> adapted = new ArrayList<>();
        for (int i = 0; i < blocks.size(); i++) adapted.add(blocks.get(i).withAdapters("blocks." + i + ".", adapterFor));
        return new WanDit(config, dtype, null, Map.of(), Map.of(), patchWeight, patchBias, textEmbedding0, textEmbedding2, timeEmbedding0,
                timeEmbedding2, timeProjection, adapted, head, swap == null ? null : swap.withAdapters(adapterFor));
    }

    static Linear adapt(Linear linear, String path, Function<String, Linear.Adapter> adapterFor) {
        Linear.Adapter adapter = adapterFor.apply(path);
        return adapter == null ? linear : linear.withAdapter(adapter).withMatmul(WeightStorage.Matmul.UPCAST);
    }

    public DitConfig config() { return config; }

    /**
     * The tensor this model computes with for a checkpoint key (e.g. {@code blocks.0.self_attn.q.weight}),
     * in its kept dtype and on its device, for updating in place (merging a LoRA stack without a
     * rebuild); null when the key is not kept as one tensor of the stored shape (a float8 Linear
     * weight, which is kept quantised with scales) or when this is an adapter view.
     */
    public Tensor parameter(String key) { return parameters.get(key); }

    /**
     * The block Linear whose weight has this checkpoint key (e.g. {@code blocks.0.ffn.2.weight}), for
     * updating a float8 weight in place ({@link Linear#requantizeInPlace}); null for any other key
     * or in an adapter view.
     */
    public Linear blockLinear(String weightKey) { return blockLinears.get(weightKey); }

    public ScalarType dtype() { return dtype; }

    /** How many blocks keep their Linear weights in host memory (0: all resident). */
    public int blocksSwapped() { return swap == null ? 0 : swap.swapped(); }

    /** The blocks, for the benchmark's per-block timing (package-private). */
    List<WanAttentionBlock> blocks() { return blocks; }

    /**
     * The text embedding of one encoder output: context [Lc, text_dim] (trimmed) is zero-padded to
     * text_len rows, then Linear → GELU(tanh) → Linear. Returns [1, text_len, C]; compute it once per
     * request and pass it to every step.
     */
    public Tensor embedContext(Tensor context) {
        long lc = context.size(0);
        if (context.dim() != 2 || context.size(1) != config.textDim())
            throw new IllegalArgumentException("context must be [L, " + config.textDim() + "], got " + Arrays.toString(Ops.shape(context)));
        if (lc > config.textLen())
            throw new IllegalArgumentException("context has " + lc + " rows, more than text_len " + config.textLen());
        Tensor ctx = context.to(patchWeight.device(), ScalarType.Float);
        Tensor padded = lc == config.textLen() ? ctx
                : cat(0, ctx, torch.zeros(new long[]{config.textLen() - lc, config.textDim()}, new TensorOptions(ScalarType.Float).device(new DeviceOptional(patchWeight.device()))));
        Tensor h = torch.gelu(textEmbedding0.forward(padded.unsqueeze(0)), "tanh");   // [1, text_len, C]
        return textEmbedding2.forward(h);                                              // [1, text_len, C]
    }

    /** sinusoidal_embedding_1d in float64 (cos first, then sin): t [B] -> [B, freq_dim] float32. */
    private Tensor sinusoidalEmbedding(Tensor t) {
        int half = config.freqDim() / 2;
        TensorOptions f64 = new TensorOptions(ScalarType.Double);
        Tensor position = t.to(ScalarType.Double).cpu();                                          // [B]
        Tensor inv = torch.pow(s(10000.0), torch.arange(s(half), f64).div(s(half)).neg());      // [half]
        Tensor sinusoid = torch.outer(position, inv);                                            // [B, half]
        return cat(1, sinusoid.cos(), sinusoid.sin()).to(patchWeight.device(), ScalarType.Float); // [B, freq_dim]
    }

    /**
     * One DiT evaluation.
     * x: [B, in_dim, F, H, W] latent, t: [B] timestep (the scheduler's truncated integer values),
     * context: [B, text_len, C] from {@link #embedContext}; nagContext and nag may be null.
     * Returns the flow velocity [B, out_dim, F, H, W] float32.
     */
    public Tensor forward(Tensor x, Tensor t, Tensor context, Tensor nagContext, Nag nag) {
        Stem stem = stem(x, t);
        Tensor h = stem.x();                                                                                // [B, L, C]
        if (swap == null) {
            for (WanAttentionBlock block : blocks) h = block.forward(h, stem.e0(), stem.freqs(), context, nagContext, nag);  // [B, L, C]
        } else {
            swap.begin();
            for (int i = 0; i < blocks.size(); i++) {
                h = swap.acquire(i, blocks.get(i)).forward(h, stem.e0(), stem.freqs(), context, nagContext, nag);  // [B, L, C]
                swap.release(i);
            }
        }
        return head(h, stem);                                                                               // [B, c, F, H, W]
    }

    /**
     * The parts of {@link #forward} before the blocks, for running the model in pieces (gradient
     * checkpointing): x holds the patch-embedded tokens [B, L, C] float32 as the first block sees them,
     * e [B, C] and e0 [B, 6, C] the time embedding and its projection, freqs the RoPE table of the
     * token grid (gf, gh, gw) as [L, 1, D/2] complex64.
     */
    public record Stem(Tensor x, Tensor e, Tensor e0, Tensor freqs, long batch, long gf, long gh, long gw) {}

    /** Time and patch embedding of {@link #forward} (no NAG): x [B, in_dim, F, H, W], t [B]. */
    public Stem stem(Tensor x, Tensor t) {
        int[] p = config.patchSize();
        if (x.dim() != 5 || x.size(1) != config.inDim())
            throw new IllegalArgumentException("latent must be [B, " + config.inDim() + ", F, H, W], got " + Arrays.toString(Ops.shape(x)));
        if (x.size(2) % p[0] != 0 || x.size(3) % p[1] != 0 || x.size(4) % p[2] != 0)
            throw new IllegalArgumentException("latent size " + Arrays.toString(Ops.shape(x)) + " is not divisible by the patch size");
        Tensor e = timeEmbedding2.forward(torch.silu(timeEmbedding0.forward(sinusoidalEmbedding(t))));   // e: [B, C]
        Tensor e0 = timeProjection.forward(torch.silu(e)).unflatten(1, 6, config.dim());                // e0: [B, 6, C]
        Tensor xe = torch.conv3d(x.to(dtype), patchWeight, new TensorOptional(patchBias),
                new long[]{p[0], p[1], p[2]}, new long[]{0, 0, 0}, new long[]{1, 1, 1}, 1);               // [B, C, F', H', W']
        long gf = xe.size(2), gh = xe.size(3), gw = xe.size(4);
        Tensor h = xe.flatten(2, -1).transpose(1, 2);                                                      // [B, L, C]
        Tensor freqs = rope.table(gf, gh, gw);                                                            // [L, 1, D/2] complex64
        return new Stem(h, e, e0, freqs, x.size(0), gf, gh, gw);
    }

    /** Number of transformer blocks. */
    public int blockCount() { return blocks.size(); }

    /**
     * Block i of {@link #forward} (no NAG): h [B, L, C] -> [B, L, C] float32; context [B, text_len, C].
     * Call it for i = 0, 1, … in order (block 0 starts a pass: swapped blocks are copied afresh).
     * With swapped blocks, run it without autograd (gradient checkpointing's forward pass): the
     * next swapped block overwrites the slot this one computed with; {@link #blockBackward} is the
     * autograd pass.
     */
    public Tensor block(int i, Tensor h, Stem stem, Tensor context) {
        if (swap == null) return blocks.get(i).forward(h, stem.e0(), stem.freqs(), context, null, null);
        if (i == 0) swap.begin();
        Tensor out = swap.acquire(i, blocks.get(i)).forward(h, stem.e0(), stem.freqs(), context, null, null);
        swap.release(i);
        return out;
    }

    /**
     * The backward pass of block i under gradient checkpointing: recomputes the block with autograd
     * from its saved input h [B, L, C] (a leaf, with requires_grad when its gradient is wanted) and
     * back-propagates gradOut [B, L, C] (d loss / d output) into h and the adapters' parameters.
     * Call it for i = n−1 … 0 after the forward pass of {@link #block}; a swapped block's weights
     * stream in in that order, the one before prefetched while this one computes.
     */
    public void blockBackward(int i, Tensor h, Stem stem, Tensor context, Tensor gradOut) {
        WanAttentionBlock b = swap == null ? blocks.get(i) : swap.acquireReverse(i, blocks.get(i));
        Tensor out = b.forward(h, stem.e0(), stem.freqs(), context, null, null);                          // [B, L, C]
        out.backward(gradOut, new BoolOptional(), false, new TensorArrayRefOptional());
        if (swap != null) swap.release(i);
    }

    /** The head and unpatchify of {@link #forward}: h [B, L, C] -> [B, out_dim, F, H, W] float32. */
    public Tensor head(Tensor h, Stem stem) {
        int[] p = config.patchSize();
        Tensor out = f32(head.forward(h, stem.e()));                                                      // [B, L, pt·ph·pw·c]
        long c = config.outDim();
        return out.view(stem.batch(), stem.gf(), stem.gh(), stem.gw(), p[0], p[1], p[2], c)
                .permute(0, 7, 1, 4, 2, 5, 3, 6)
                .reshape(stem.batch(), c, stem.gf() * p[0], stem.gh() * p[1], stem.gw() * p[2]);           // [B, c, F, H, W]
    }

    @Override public void close() {
        if (swap != null) swap.close();
        if (weights != null) weights.close();
    }
}
