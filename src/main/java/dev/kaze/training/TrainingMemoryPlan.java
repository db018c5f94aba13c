package dev.kaze.training;

import dev.kaze.pipeline.dit.DitConfig;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The planned peak device memory of one LoRA training step (batch size 1) on one bucket, from tensor
 * sizes, beside {@link dev.kaze.pipeline.MemoryPlan} for renders. Terms:
 * <ul>
 *   <li>the DiT's weights as kept: block Linears in bf16 (2 bytes) or as musubi's fp8_scaled (1 byte
 *       plus one float32 scale per {@value #FP8_BLOCK} input columns of a row); biases bf16; norms,
 *       modulation, time embedding, projection and head float32. With swap N, N blocks' Linear weights
 *       live in pinned host memory and stream through min(N, 2) device slots;</li>
 *   <li>the LoRA (rank r on the ten Linears of every block): float32 parameters, float32 gradients
 *       and the optimizer's state (8 bytes per element for AdamW, about 2 for {@link AdamW8bit});</li>
 *   <li>the step's tensors: context, latents, noise, target and prediction;</li>
 *   <li>activations: with gradient checkpointing every block's input [L, C] float32 is kept and one
 *       block at a time holds its autograd activations (during its recomputation and backward);
 *       without, every block holds them. Over a float8 base a block's backward also holds its ten
 *       Linear weights upcast to bf16 (autograd keeps the upcast weight for the input gradient);</li>
 *   <li>headroom: {@link #RUNTIME_RESERVE} for the CUDA context and cuBLAS workspaces, plus
 *       {@value #ALLOCATOR_SLACK_PERCENT} % of the activations for the caching allocator's fragmentation.</li>
 * </ul>
 * The activation terms are an upper bound from the tensors a Kaze block creates (residual stream and
 * modulation float32, RoPE in float64, Linears in bf16, memory-efficient attention with no L×L matrix).
 *
 * @param bucket        the bucket's width, height (pixels) and frames
 * @param fp8Base       block Linears as fp8_scaled (fp8_base + fp8_scaled), else bf16
 * @param swap          blocks_to_swap
 * @param rank          network_dim
 * @param optimizerStateBytes optimizer state bytes per LoRA element ({@link LoraOptimizer#stateBytesPerElement})
 * @param checkpointing gradient_checkpointing
 */
public record TrainingMemoryPlan(DitConfig dit, Bucket bucket, boolean fp8Base, int swap, int rank, double optimizerStateBytes,
                                 boolean checkpointing) {
    /** A bucket: width × height pixels and a frame count (1 for an image). */
    public record Bucket(int width, int height, int frames) {
        public Bucket {
            if (width < 16 || height < 16 || width % 16 != 0 || height % 16 != 0)
                throw new IllegalArgumentException("a bucket's width and height must be positive multiples of 16, got " + width + "x" + height);
            if (frames < 1 || (frames - 1) % 4 != 0) throw new IllegalArgumentException("a bucket's frames must be 4k+1, got " + frames);
        }

        @Override public String toString() { return width + "x" + height + "x" + frames; }
    }

    /** One named amount of device memory. */
    public record Term(String name, long bytes) {}

    /** Bytes kept back for the CUDA context and cuBLAS workspaces. */
    public static final long RUNTIME_RESERVE = 1L << 30;
    /** The caching allocator's fragmentation, as a share of the activations. */
    public static final int ALLOCATOR_SLACK_PERCENT = 10;
    /** musubi-tuner's fp8_scaled block: one scale per 64 input columns of a row. */
    public static final int FP8_BLOCK = 64;
    /** Wan2.1's VAE: 8× spatial, 4× temporal compression. */
    public static final int SPATIAL_STRIDE = 8, TEMPORAL_STRIDE = 4;
    /** AdamW's two float32 moments per element. */
    public static final double ADAMW_STATE_BYTES = 8;

    private static final int BF16 = 2, F32 = 4, F64 = 8;

    public TrainingMemoryPlan {
        if (swap < 0 || swap > dit.numLayers() - 1)
            throw new IllegalArgumentException("blocks_to_swap must be 0.." + (dit.numLayers() - 1) + " for training this model, got " + swap);
        if (rank < 1) throw new IllegalArgumentException("network_dim must be at least 1, got " + rank);
        if (swap > 0 && !checkpointing)
            throw new IllegalArgumentException("blocks_to_swap needs gradient_checkpointing (swapped blocks stream in again for the backward pass)");
    }

    public long latentFrames() { return 1 + (bucket.frames() - 1) / TEMPORAL_STRIDE; }

    /** DiT tokens L of the bucket. */
    public long tokens() {
        int[] p = dit.patchSize();
        return (latentFrames() / p[0]) * (bucket.height() / SPATIAL_STRIDE / p[1]) * (bucket.width() / SPATIAL_STRIDE / p[2]);
    }

    /** Elements of the ten block Linear weights of one block. */
    public long blockLinearElements() {
        long c = dit.dim(), f = dit.ffnDim();
        return 8 * c * c + 2 * c * f;
    }

    /** One block's Linear weights as stored (fp8 values plus float32 block scales, or bf16). */
    public long blockLinearBytes() {
        long n = blockLinearElements();
        return fp8Base ? n + n / FP8_BLOCK * F32 : n * BF16;
    }

    /** One block's other tensors: biases (bf16), qk/cross norms and modulation (float32). */
    public long blockOtherBytes() {
        long c = dit.dim(), rows = 9 * c + dit.ffnDim();
        long norms = (dit.qkNorm() ? 4 * c : 0) + (dit.crossAttnNorm() ? 2 * c : 0);
        return rows * BF16 + (norms + 6 * c) * F32;
    }

    /** LoRA elements: rank × (in + out) for each of the ten Linears of every block. */
    public long loraElements() {
        long c = dit.dim(), f = dit.ffnDim();
        return (long) dit.numLayers() * rank * (8 * 2 * c + 2 * (c + f));
    }

    /** Blocks whose Linear weights are on the device: the resident ones and the swap slots. */
    public long deviceBlocks() { return dit.numLayers() - swap + Math.min(swap, 2); }

    /** The terms on the device through the whole step. */
    public List<Term> staticTerms() {
        long c = dit.dim(), lc = dit.textLen();
        int[] p = dit.patchSize();
        long latent = (long) dit.inDim() * latentFrames() * (bucket.height() / SPATIAL_STRIDE) * (bucket.width() / SPATIAL_STRIDE);
        List<Term> t = new ArrayList<>();
        t.add(new Term("DiT patch + text embedding (bf16)", (c * dit.inDim() * p[0] * p[1] * p[2] + c + dit.textDim() * c + c + c * c + c) * BF16));
        t.add(new Term("DiT time embedding + projection + head (float32)",
                (dit.freqDim() * c + c + c * c + c + 6 * c * c + 6 * c + 2 * c + c * dit.patchFeatures() + dit.patchFeatures()) * F32));
        t.add(new Term("DiT block Linears on device: " + deviceBlocks() + " x " + (fp8Base ? "fp8_scaled" : "bf16") + " (" + (dit.numLayers() - swap)
                + " resident + " + Math.min(swap, 2) + " swap slots)", deviceBlocks() * blockLinearBytes()));
        t.add(new Term("DiT block biases, norms, modulation (all blocks)", dit.numLayers() * blockOtherBytes()));
        t.add(new Term("LoRA parameters (float32)", loraElements() * F32));
        t.add(new Term("LoRA gradients (float32)", loraElements() * F32));
        t.add(new Term("optimizer state (" + optimizerStateBytes + " bytes per LoRA element)", (long) Math.ceil(loraElements() * optimizerStateBytes)));
        t.add(new Term("context [text_len, C] (float32 + its embedding)", 2 * lc * c * F32));
        t.add(new Term("x0, noise, noisy, target, prediction (float32 latents)", 5 * latent * F32));
        t.add(new Term("runtime reserve (CUDA context, workspaces)", RUNTIME_RESERVE));
        return t;
    }

    /** The autograd activations of one block at L tokens (held during its recomputation and backward). */
    public List<Term> blockTerms() {
        long c = dit.dim(), l = tokens(), f = dit.ffnDim();
        List<Term> t = new ArrayList<>();
        t.add(new Term("float32 [L, C]: input, 3 norms, 2 modulated inputs, 2 residual sums, gate products", 9 * l * c * F32));
        t.add(new Term("bf16 [L, C]: modulated casts, q, k, v, normed q/k, attention output, o, cross q/out/o, ffn.2 output", 13 * l * c * BF16));
        t.add(new Term("RoPE: q and k upcast and rotated [L, C] float64", 4 * l * c * F64));
        t.add(new Term("FFN hidden [L, ffn_dim] bf16: Linear output + GELU output", 2 * l * f * BF16));
        t.add(new Term("LoRA hidden [L, rank] bf16 of the ten Linears", 10 * l * rank * BF16));
        t.add(new Term("backward temporaries: gradient in flight and out [L, C] float32, FFN gradient [L, ffn_dim] bf16 x 2",
                2 * l * c * F32 + 2 * l * f * BF16));
        if (fp8Base) t.add(new Term("the block's ten Linear weights upcast to bf16 (kept for the input gradient)", blockLinearElements() * BF16));
        return t;
    }

    /** Activations of the whole step: checkpointed inputs plus one block, or every block without checkpointing. */
    public List<Term> activationTerms() {
        long block = sum(blockTerms());
        List<Term> t = new ArrayList<>();
        if (checkpointing) {
            t.add(new Term("checkpointed block inputs: " + (dit.numLayers() + 1) + " x [L, C] float32", (dit.numLayers() + 1) * tokens() * dit.dim() * F32));
            t.add(new Term("one block's autograd activations", block));
        } else {
            t.add(new Term(dit.numLayers() + " blocks' autograd activations", dit.numLayers() * block));
        }
        return t;
    }

    /** The caching allocator's fragmentation headroom. */
    public long allocatorSlack() { return sum(activationTerms()) * ALLOCATOR_SLACK_PERCENT / 100; }

    /** Planned peak device bytes of a step on this bucket. */
    public long peakBytes() { return sum(staticTerms()) + sum(activationTerms()) + allocatorSlack(); }

    /** Pinned host bytes of the swapped blocks' Linear weights. */
    public long hostBytes() { return swap * blockLinearBytes(); }

    /** This plan with another swap count. */
    public TrainingMemoryPlan withSwap(int n) { return new TrainingMemoryPlan(dit, bucket, fp8Base, n, rank, optimizerStateBytes, checkpointing); }

    /**
     * The fewest blocks to swap (0..num_layers − 1) with which every bucket's step fits budget bytes
     * (blocks_to_swap: auto), or −1 when none does.
     */
    public static int fewestBlocksToSwap(DitConfig dit, List<Bucket> buckets, boolean fp8Base, int rank, double optimizerStateBytes,
                                         boolean checkpointing, long budget) {
        int max = checkpointing ? dit.numLayers() - 1 : 0;
        for (int n = 0; n <= max; n++) {
            boolean fits = true;
            for (Bucket b : buckets)
                if (new TrainingMemoryPlan(dit, b, fp8Base, n, rank, optimizerStateBytes, checkpointing).peakBytes() > budget) { fits = false; break; }
            if (fits) return n;
        }
        return -1;
    }

    /**
     * The buckets a dataset config trains on, one per dataset resolution and target frame count (1 for an
     * image dataset). With enable_bucket, a dataset's buckets keep about its resolution's area, so its
     * resolution stands for them (the token count, which sets the activations, follows the area).
     */
    public static List<Bucket> buckets(DatasetConfig config) {
        Set<Bucket> out = new LinkedHashSet<>();
        for (Dataset d : config.datasets()) {
            Size r = d.params().resolution();
            int w = r.width() / 16 * 16, h = r.height() / 16 * 16;
            switch (d) {
                case ImageDatasetConfig i -> out.add(new Bucket(w, h, 1));
                case VideoDatasetConfig v -> { for (int f : v.frames().targetFrames()) out.add(new Bucket(w, h, f)); }
            }
        }
        return List.copyOf(out);
    }

    /** The terms one per line with their sizes in GiB, and the peak. */
    public String describe() {
        StringBuilder s = new StringBuilder("bucket " + bucket + " (" + tokens() + " tokens), " + (fp8Base ? "fp8_scaled" : "bf16")
                + " base, swap " + swap + ", rank " + rank + (checkpointing ? ", checkpointing" : "") + ":\n");
        for (Term t : staticTerms()) s.append(String.format("  %-100s %8.3f GiB%n", t.name(), gib(t.bytes())));
        for (Term t : activationTerms()) s.append(String.format("  %-100s %8.3f GiB%n", t.name(), gib(t.bytes())));
        s.append(String.format("  %-100s %8.3f GiB%n", "allocator slack (" + ALLOCATOR_SLACK_PERCENT + " % of activations)", gib(allocatorSlack())));
        s.append(String.format("  %-100s %8.3f GiB (host: %.3f GiB pinned)%n", "peak", gib(peakBytes()), gib(hostBytes())));
        return s.toString();
    }

    public static double gib(long bytes) { return bytes / (double) (1L << 30); }

    private static long sum(List<Term> terms) { return terms.stream().mapToLong(Term::bytes).sum(); }
}
