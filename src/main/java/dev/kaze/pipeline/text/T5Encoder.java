// Port of wan/modules/t5.py, T5Encoder (with T5SelfAttention, T5Attention, T5FeedForward, T5LayerNorm, T5RelativeEmbedding)
package dev.kaze.pipeline.text;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * The umT5 text encoder of Wan2.1: token embedding (no scaling), pre-norm self-attention
 * blocks with a relative position bias (one table per block unless {@code sharedPos}),
 * attention without score scaling, gated GELU-tanh FFN, final RMS norm.
 *
 * <p>The weights keep the dtype they were built with (float32 on the CPU, bfloat16 for the
 * official checkpoint on a GPU); as in the reference there is no autocast: norm statistics and
 * softmax run in float32, everything else in the weights' dtype. Outputs are float32.
 *
 * <p>Built by {@link T5EncoderLoader}. Owns its weights' native memory until {@link #close()}.
 * Tensors returned by {@code encode*} belong to the caller's innermost {@link PointerScope}
 * (or, without one, to the caller, who closes them).
 */
public final class T5Encoder implements AutoCloseable {
    /** T5RelativeEmbedding's max_dist (not configurable in the reference). */
    public static final int MAX_DIST = 128;

    /** One T5SelfAttention block. {@code posEmbedding} is null when the encoder shares one table. */
    record Block(Tensor norm1, Tensor q, Tensor k, Tensor v, Tensor o, Tensor posEmbedding,
                 Tensor norm2, Tensor gate, Tensor fc1, Tensor fc2) {}

    private final T5Config config;
    private final Tensor tokenEmbedding;   // [vocab, dim]
    private final Tensor posEmbedding;     // [num_buckets, num_heads] when shared_pos, else null
    private final List<Block> blocks;
    private final Tensor norm;             // [dim]
    private final List<Tensor> owned;
    private boolean closed;

    /** Takes ownership of {@code owned} (each holding one reference released by {@link #close()}). */
    T5Encoder(T5Config config, Tensor tokenEmbedding, Tensor posEmbedding, List<Block> blocks, Tensor norm,
              List<Tensor> owned) {
        if (blocks.size() != config.numLayers())
            throw new IllegalArgumentException("T5 encoder needs " + config.numLayers() + " blocks, got " + blocks.size());
        if (config.sharedPos() != (posEmbedding != null))
            throw new IllegalArgumentException("T5 encoder: shared_pos is " + config.sharedPos()
                    + " but a shared position table was " + (posEmbedding == null ? "not " : "") + "given");
        this.config = config;
        this.tokenEmbedding = tokenEmbedding;
        this.posEmbedding = posEmbedding;
        this.blocks = List.copyOf(blocks);
        this.norm = norm;
        this.owned = new ArrayList<>(owned);
    }

    public T5Config config() { return config; }

    /**
     * A copy of this encoder's weights on device (its own tensors, freed when it is closed): umT5
     * kept in host memory is copied to the GPU for encoding and released right after.
     */
    public T5Encoder copyTo(Device device) {
        checkOpen();
        List<Tensor> copies = new ArrayList<>();
        UnaryOperator<Tensor> copy = t -> {
            if (t == null) return null;
            try (PointerScope scope = new PointerScope()) {
                Tensor c = t.to(device, t.scalar_type(), false, true, new MemoryFormatOptional());
                c.retainReference();
                copies.add(c);
                return c;
            }
        };
        try {
            List<Block> moved = new ArrayList<>();
            for (Block b : blocks)
                moved.add(new Block(copy.apply(b.norm1()), copy.apply(b.q()), copy.apply(b.k()), copy.apply(b.v()), copy.apply(b.o()),
                        copy.apply(b.posEmbedding()), copy.apply(b.norm2()), copy.apply(b.gate()), copy.apply(b.fc1()), copy.apply(b.fc2())));
            return new T5Encoder(config, copy.apply(tokenEmbedding), copy.apply(posEmbedding), moved, copy.apply(norm), copies);
        } catch (RuntimeException e) {
            copies.forEach(Tensor::releaseReference);
            throw e;
        }
    }

    /** dtype of the weights (the compute dtype). */
    public ScalarType dtype() { return tokenEmbedding.scalar_type().intern(); }

    public Device device() { return tokenEmbedding.device(); }

    /**
     * Encodes padded token ids.
     *
     * @param ids  [B, L] int64 token ids
     * @param mask [B, L] int64, 1 for real tokens (incl. EOS), 0 for padding; only keys are masked
     * @return [B, L, dim] float32 on the encoder's device, all rows (padding rows included)
     */
    public Tensor encode(Tensor ids, Tensor mask) {
        checkOpen();
        checkInputs(ids, mask);
        PointerScope outer = PointerScope.getInnerScope();
        try (PointerScope ignored = new PointerScope()) {
            Tensor out = forward(ids.to(device(), ScalarType.Long), mask.to(device(), ScalarType.Long))
                    .to(ScalarType.Float).contiguous();   // out: [B, L, dim]
            return keep(outer, out);
        }
    }

    /**
     * Encodes one prompt and keeps the rows of its real tokens, as T5EncoderModel.__call__ does
     * ({@code u[:v]} with {@code v = mask.sum()}).
     *
     * @param ids  [1, L] (or [L]) int64 token ids, padding at the end
     * @param mask [1, L] (or [L]) int64 attention mask
     * @return [seqLen, dim] float32
     */
    public Tensor encodeTrimmed(Tensor ids, Tensor mask) {
        checkOpen();
        PointerScope outer = PointerScope.getInnerScope();
        try (PointerScope ignored = new PointerScope()) {
            if (ids.dim() == 1) ids = ids.unsqueeze(0);
            if (mask.dim() == 1) mask = mask.unsqueeze(0);
            if (ids.dim() != 2 || ids.size(0) != 1)
                throw new IllegalArgumentException("encodeTrimmed takes one prompt: ids must be [1, L], got "
                        + Arrays.toString(shape(ids)) + "; use encode for a batch");
            long seqLen = mask.to(ScalarType.Long).sum().item_long();
            Tensor context = encode(ids, mask);                                  // context: [1, L, dim]
            Tensor out = context.select(0, 0).narrow(0, 0, seqLen).contiguous(); // out: [seqLen, dim]
            return keep(outer, out);
        }
    }

    // ---- forward (T5Encoder.forward) ----

    private Tensor forward(Tensor ids, Tensor mask) {
        // ids: [B, L], mask: [B, L]
        long L = ids.size(1);
        Tensor x = torch.embedding(tokenEmbedding, ids);                          // x: [B, L, dim]
        Tensor e = config.sharedPos() ? relativeEmbedding(posEmbedding, L, L) : null; // e: [1, N, L, L]
        PointerScope scope = PointerScope.getInnerScope();
        for (Block block : blocks) {
            Tensor previous = x;
            try (PointerScope ignored = new PointerScope()) {   // frees the block's temporaries
                x = selfAttentionBlock(block, x, mask, e);
                scope.attach(x);
            }
            scope.detach(previous);
        }
        return layerNorm(x, norm);                                                // x: [B, L, dim]
    }

    /** T5SelfAttention.forward. */
    private Tensor selfAttentionBlock(Block block, Tensor x, Tensor mask, Tensor posBias) {
        // x: [B, L, dim]
        long L = x.size(1);
        Tensor e = config.sharedPos() ? posBias : relativeEmbedding(block.posEmbedding(), L, L); // e: [1, N, L, L]
        x = fp16Clamp(x.add(attention(block, layerNorm(x, block.norm1()), mask, e)));  // x: [B, L, dim]
        x = fp16Clamp(x.add(feedForward(block, layerNorm(x, block.norm2()))));        // x: [B, L, dim]
        return x;
    }

    /** T5Attention.forward (self-attention, no score scaling). */
    private Tensor attention(Block block, Tensor x, Tensor mask, Tensor posBias) {
        // x: [B, L, dim], mask: [B, L], posBias: [1, N, L, L]
        long b = x.size(0);
        long n = config.numHeads(), c = config.headDim();
        Tensor q = torch.linear(x, block.q()).view(b, -1, n, c);                 // q: [B, L, N, C]
        Tensor k = torch.linear(x, block.k()).view(b, -1, n, c);                 // k: [B, L, N, C]
        Tensor v = torch.linear(x, block.v()).view(b, -1, n, c);                 // v: [B, L, N, C]

        Tensor attn_bias = torch.zeros(new long[]{b, n, q.size(1), k.size(1)},
                new TensorOptions(x.scalar_type()).device(new DeviceOptional(x.device())));  // attn_bias: [B, N, Lq, Lk]
        attn_bias.add_(posBias);
        attn_bias.masked_fill_(mask.view(b, 1, 1, -1).eq(new Scalar(0L)), new Scalar(finfoMin(x.scalar_type())));

        Tensor attn = torch.einsum("binc,bjnc->bnij", new TensorVector(q, k)).add(attn_bias); // attn: [B, N, Lq, Lk]
        attn = torch.softmax(attn.to(ScalarType.Float), -1).to(attn.scalar_type());
        x = torch.einsum("bnij,bjnc->binc", new TensorVector(attn, v));          // x: [B, Lq, N, C]
        x = x.reshape(b, -1, n * c);                                              // x: [B, Lq, N*C]
        return torch.linear(x, block.o());                                        // [B, Lq, dim]
    }

    /** T5FeedForward.forward: fc2(fc1(x) * gelu_tanh(gate.0(x))). */
    private static Tensor feedForward(Block block, Tensor x) {
        // x: [B, L, dim]
        Tensor h = torch.linear(x, block.fc1()).mul(gelu(torch.linear(x, block.gate())));  // h: [B, L, dim_ffn]
        return torch.linear(h, block.fc2());                                                // [B, L, dim]
    }

    /** The reference's GELU module, op for op (so bf16 rounds where the reference rounds). */
    private static Tensor gelu(Tensor x) {
        Tensor inner = x.add(x.pow(new Scalar(3.0)).mul(new Scalar(0.044715))).mul(new Scalar(Math.sqrt(2.0 / Math.PI)));
        return x.mul(new Scalar(0.5)).mul(torch.tanh(inner).add(new Scalar(1.0)));
    }

    /** T5LayerNorm.forward: RMS norm with float32 statistics, cast back to a half-precision weight's dtype. */
    private Tensor layerNorm(Tensor x, Tensor weight) {
        // x: [B, L, dim]
        Tensor variance = x.to(ScalarType.Float).pow(new Scalar(2L)).mean(new long[]{-1}, true, new ScalarTypeOptional()); // [B, L, 1]
        Tensor y = x.mul(torch.rsqrt(variance.add(new Scalar(config.eps()))));   // y: [B, L, dim] float32
        ScalarType wt = weight.scalar_type().intern();
        if (wt == ScalarType.BFloat16 || wt == ScalarType.Half) y = y.to(wt);
        return weight.mul(y);
    }

    /** fp16_clamp: only acts on float16 activations holding an inf. */
    private static Tensor fp16Clamp(Tensor x) {
        if (x.scalar_type().intern() != ScalarType.Half || !torch.isinf(x).any().item_bool()) return x;
        double clamp = 65504.0 - 1000;
        return torch.clamp(x, new ScalarOptional(new Scalar(-clamp)),
                new ScalarOptional(new Scalar(clamp)));
    }

    /** T5RelativeEmbedding.forward: the bias [1, N, Lq, Lk] for query i and key j from the bucket of j - i. */
    static Tensor relativeEmbedding(Tensor embedding, long lq, long lk) {
        // embedding: [num_buckets, N]
        TensorOptions longs = new TensorOptions(ScalarType.Long).device(new DeviceOptional(embedding.device()));
        Tensor rel_pos = torch.arange(new Scalar(lk), longs).unsqueeze(0)
                .sub(torch.arange(new Scalar(lq), longs).unsqueeze(1));                 // rel_pos: [Lq, Lk]
        rel_pos = relativePositionBucket(rel_pos, embedding.size(0), MAX_DIST);         // rel_pos: [Lq, Lk] buckets
        Tensor rel_pos_embeds = torch.embedding(embedding, rel_pos);                   // [Lq, Lk, N]
        return rel_pos_embeds.permute(2, 0, 1).unsqueeze(0).contiguous();              // [1, N, Lq, Lk]
    }

    /**
     * T5RelativeEmbedding._relative_position_bucket, bidirectional: the bucket of each relative
     * position (key − query), computed with the reference's float32 log and truncation.
     */
    static Tensor relativePositionBucket(Tensor rel_pos, long numBuckets, int maxDist) {
        // rel_pos: [...] int64
        long num_buckets = numBuckets / 2;
        Tensor rel_buckets = rel_pos.gt(new Scalar(0L)).to(ScalarType.Long).mul(new Scalar(num_buckets));
        rel_pos = rel_pos.abs();
        long max_exact = num_buckets / 2;
        Tensor rel_pos_large = rel_pos.to(ScalarType.Float).div(new Scalar(max_exact)).log()
                .div(new Scalar(Math.log((double) maxDist / max_exact)))
                .mul(new Scalar(num_buckets - max_exact))
                .to(ScalarType.Long).add(new Scalar(max_exact));
        rel_pos_large = torch.clamp_max(rel_pos_large, new Scalar(num_buckets - 1));
        return rel_buckets.add(torch.where(rel_pos.lt(new Scalar(max_exact)), rel_pos, rel_pos_large));
    }

    /** torch.finfo(dtype).min, the value masked keys get. */
    static double finfoMin(ScalarType dtype) {
        return switch (dtype.intern()) {
            case Float -> -Float.MAX_VALUE;
            case Double -> -Double.MAX_VALUE;
            case BFloat16 -> -3.3895313892515355e38;
            case Half -> -65504.0;
            default -> throw new IllegalArgumentException("T5 encoder computes in float32, float64, bfloat16 or float16, not " + dtype);
        };
    }

    // ---- plumbing ----

    private static Tensor keep(PointerScope outer, Tensor t) {
        if (outer != null) outer.attach(t);
        else t.retainReference();
        return t;
    }

    private void checkInputs(Tensor ids, Tensor mask) {
        if (ids.dim() != 2)
            throw new IllegalArgumentException("T5 encoder: ids must be [B, L] token ids, got shape " + Arrays.toString(shape(ids)));
        if (!Arrays.equals(shape(ids), shape(mask)))
            throw new IllegalArgumentException("T5 encoder: mask shape " + Arrays.toString(shape(mask))
                    + " must equal ids shape " + Arrays.toString(shape(ids)));
        if (ids.size(1) == 0) throw new IllegalArgumentException("T5 encoder: ids hold no tokens");
        try (PointerScope ignored = new PointerScope()) {
            long min = ids.min().item_long(), max = ids.max().item_long();
            if (min < 0 || max >= config.vocab())
                throw new IllegalArgumentException("T5 encoder: token ids must lie in [0, " + config.vocab() + "), got ids from "
                        + min + " to " + max + " (was the prompt tokenized with this encoder's tokenizer?)");
        }
    }

    private static long[] shape(Tensor t) { return t.sizes().vec().get(); }

    private void checkOpen() {
        if (closed) throw new IllegalStateException("T5 encoder is closed");
    }

    /** Frees the weights. */
    @Override public void close() {
        if (closed) return;
        closed = true;
        for (Tensor t : owned) t.releaseReference();
        owned.clear();
    }
}
