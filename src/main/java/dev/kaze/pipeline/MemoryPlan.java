package dev.kaze.pipeline;

import dev.kaze.pipeline.dit.DitConfig;
import dev.kaze.pipeline.vae.DecodeTiling;
import dev.kaze.pipeline.vae.VaeConfig;

import java.util.ArrayList;
import java.util.List;

/**
 * The planned peak device memory of a text-to-video render, from tensor sizes. The DiT's block
 * Linear weights are stored in bf16 (2 bytes) or fp8 (1 byte, plus one float32 scale per output
 * row); everything else keeps the dtype the model code gives it (biases bf16; norms, modulation,
 * time embedding, projection and head float32). With swap N &gt; 0, N blocks' weights live in pinned
 * host memory and stream in through min(N, 2) device slots (one computing, one loading).
 * <p>
 * Peak = static terms (weights, text context, latents, VAE weights, runtime reserve)
 * + max(one DiT block's activations, one VAE decode chunk). The text encoder runs before the
 * DiT and is not resident during denoising (it runs on the host or is freed). The block activation
 * term is a sum of the tensors a block holds at its busiest, an upper bound: the attention kernels
 * are assumed memory-efficient (no L×L matrix), as flash / memory-efficient SDPA on CUDA are.
 * With vaeTile &gt; 0 the VAE decodes in spatial tiles of that many latent pixels ({@link DecodeTiling#of}):
 * one tile's activations, every tile's causal caches.
 */
public record MemoryPlan(DitConfig dit, VaeConfig vae, int width, int height, int frames, Storage storage, int swap, int vaeTile) {

    /** An untiled decode. */
    public MemoryPlan(DitConfig dit, VaeConfig vae, int width, int height, int frames, Storage storage, int swap) {
        this(dit, vae, width, height, frames, storage, swap, 0);
    }

    /** How the DiT's block Linear weights are stored on the device. */
    public enum Storage {
        BF16(2), FP8(1);
        final int bytes;
        Storage(int bytes) { this.bytes = bytes; }
    }

    /** One named amount of device memory. */
    public record Term(String name, long bytes) {}

    /** Bytes kept back for the CUDA context, cuBLAS workspaces and allocator fragmentation. */
    public static final long RUNTIME_RESERVE = 1L << 30;
    private static final int COMPUTE = 2;   // bf16 activations and non-fp8 weights
    private static final int F32 = 4;
    private static final int F64 = 8;
    /** Latent copies alive in the loop: the latent, the velocity, the UniPC history (2), the noise. */
    private static final int LATENT_COPIES = 5;

    public MemoryPlan {
        if (width % 16 != 0 || height % 16 != 0) throw new IllegalArgumentException("width and height must be multiples of 16");
        if (frames < 1 || (frames - 1) % 4 != 0) throw new IllegalArgumentException("frames must be 4k+1, got " + frames);
        if (swap < 0 || swap > dit.numLayers()) throw new IllegalArgumentException("swap must be 0.." + dit.numLayers() + ", got " + swap);
        if (vaeTile < 0) throw new IllegalArgumentException("the VAE tile must be 0 (untiled) or positive, got " + vaeTile);
    }

    public long latentFrames() { return 1 + (frames - 1) / vae.temporalStride(); }

    public long latentHeight() { return height / vae.spatialStride(); }

    public long latentWidth() { return width / vae.spatialStride(); }

    /** DiT tokens L. */
    public long tokens() {
        int[] p = dit.patchSize();
        return (latentFrames() / p[0]) * (latentHeight() / p[1]) * (latentWidth() / p[2]);
    }

    /** One block's weights on the device. */
    public long blockBytes() {
        long c = dit.dim(), f = dit.ffnDim();
        long linear = 8 * c * c + 2 * c * f;                  // self q,k,v,o + cross q,k,v,o + ffn.0 + ffn.2
        long rows = 9 * c + f;                                // output rows of those Linears
        long scales = storage == Storage.FP8 ? rows * F32 : 0;
        long norms = (dit.qkNorm() ? 4 * c : 0) + (dit.crossAttnNorm() ? 2 * c : 0);
        return linear * storage.bytes + scales + rows * COMPUTE + (norms + 6 * c) * F32;
    }

    /** Blocks whose weights are on the device: the resident ones and the swap slots. */
    public long deviceBlocks() { return dit.numLayers() - swap + Math.min(swap, 2); }

    /** The terms always on the device during the render. */
    public List<Term> staticTerms() {
        long c = dit.dim(), l = tokens(), lc = dit.textLen();
        int[] p = dit.patchSize();
        List<Term> t = new ArrayList<>();
        t.add(new Term("DiT patch + text embedding (bf16)",
                (c * dit.inDim() * p[0] * p[1] * p[2] + c + dit.textDim() * c + c + c * c + c) * COMPUTE));
        t.add(new Term("DiT time embedding + projection + head (float32)",
                (dit.freqDim() * c + c + c * c + c + 6 * c * c + 6 * c + 2 * c + c * dit.patchFeatures() + dit.patchFeatures()) * F32));
        t.add(new Term("DiT blocks on device: " + deviceBlocks() + " x " + storage + " block (" + (dit.numLayers() - swap)
                + " resident + " + Math.min(swap, 2) + " swap slots; " + swap + " in pinned host memory)", deviceBlocks() * blockBytes()));
        t.add(new Term("RoPE cos/sin table (float64)", 2 * l * (dit.dim() / dit.numHeads() / 2) * F64));
        t.add(new Term("text context: positive + NAG negative [text_len, C]", 2 * lc * c * COMPUTE));
        t.add(new Term("latents: " + LATENT_COPIES + " x [" + dit.inDim() + ", " + latentFrames() + ", " + latentHeight() + ", " + latentWidth() + "] float32",
                LATENT_COPIES * dit.inDim() * latentFrames() * latentHeight() * latentWidth() * F32));
        t.add(new Term("VAE weights (float32)", vaeParams() * F32));
        t.add(new Term("runtime reserve (CUDA context, workspaces)", RUNTIME_RESERVE));
        return t;
    }

    /** One DiT block's activations at L tokens. */
    public List<Term> blockTerms() {
        long c = dit.dim(), l = tokens(), f = dit.ffnDim();
        List<Term> t = new ArrayList<>();
        t.add(new Term("residual x [L, C] float32", l * c * F32));
        t.add(new Term("modulated input [L, C] float32 + its bf16 cast", l * c * (F32 + COMPUTE)));
        t.add(new Term("q, k, v, attention output [L, C] bf16", 4 * l * c * COMPUTE));
        t.add(new Term("RoPE temporaries: q or k upcast and rotated [L, C] float64", 2 * l * c * F64));
        t.add(new Term("FFN hidden [L, ffn_dim] bf16: Linear output + GELU output", 2 * l * f * COMPUTE));
        t.add(new Term("NAG extra cross-attention output + guided [L, C] bf16", 2 * l * c * COMPUTE));
        if (storage == Storage.FP8) t.add(new Term("largest fp8 Linear dequantised to bf16 [ffn_dim, C]", f * c * COMPUTE));
        return t;
    }

    /** The decode's spatial tiling, or null when it decodes whole frames. */
    public DecodeTiling decodeTiling() {
        return vaeTile == 0 || !DecodeTiling.of(vaeTile).splits(latentHeight(), latentWidth()) ? null : DecodeTiling.of(vaeTile);
    }

    /**
     * One VAE decode chunk: the causal-conv caches (2 frames of every 3x3x3 conv input, of every
     * tile when tiled) and one chunk's (tile's) activations; tiled, also the blended chunk and weights.
     */
    public List<Term> decodeTerms() {
        DecodeTiling tiling = decodeTiling();
        long h = latentHeight(), w = latentWidth();
        long[] perPixel = decodePerLatentPixel();                              // {cache, largest} per latent pixel
        List<Term> terms = new ArrayList<>();
        if (tiling == null) {
            terms.add(new Term("VAE causal-conv caches (2 frames per conv input, float32)", perPixel[0] * h * w * F32));
            terms.add(new Term("VAE chunk activations: 6 live tensors of the largest stage (float32)", 6 * perPixel[1] * h * w * F32));
            return terms;
        }
        long th = Math.min(tiling.tile(), h), tw = Math.min(tiling.tile(), w);
        long tiles = (long) tiling.starts(h).size() * tiling.starts(w).size();
        long s = vae.spatialStride(), pixels = h * s * w * s;
        terms.add(new Term("VAE causal-conv caches of " + tiles + " tiles of " + th + "x" + tw + " latent pixels (float32)",
                perPixel[0] * tiles * th * tw * F32));
        terms.add(new Term("VAE tile activations: 6 live tensors of the largest stage (float32)", 6 * perPixel[1] * th * tw * F32));
        terms.add(new Term("blended chunk [3, 4, H, W] + weight sum [H, W] (float32)", (3L * vae.temporalStride() + 1) * pixels * F32));
        return terms;
    }

    /** The decode's cache and largest-activation element counts per latent pixel of a chunk (both scale with h·w). */
    private long[] decodePerLatentPixel() {
        List<Integer> mult = vae.dimMult();
        int n = mult.size();
        long[] dims = new long[n + 1];
        dims[0] = (long) vae.dim() * mult.get(n - 1);
        for (int i = 0; i < n; i++) dims[i + 1] = (long) vae.dim() * mult.get(n - 1 - i);
        long h = 1, w = 1, t = 1;
        long cache = 2 * vae.zDim() * h * w + 2L * 2 * 2 * dims[0] * h * w;   // conv1 + middle's two residual blocks
        long largest = 0;
        List<Boolean> temporal = vae.temperalUpsample();
        for (int i = 0; i < n; i++) {
            long in = i == 0 ? dims[0] : dims[i] / 2, out = dims[i + 1];
            for (int r = 0; r < vae.numResBlocks() + 1; r++) {
                cache += 2 * (in + out) * h * w;                               // the block's two 3x3x3 convs
                largest = Math.max(largest, Math.max(in, out) * (t + 2) * h * w);
                in = out;
            }
            if (i != n - 1) {
                if (temporal.get(i)) { cache += 2 * out * h * w; t *= 2; }     // time_conv
                h *= 2; w *= 2;
                largest = Math.max(largest, out * t * h * w);
            }
        }
        cache += 2 * dims[n] * h * w;                                          // head conv
        return new long[]{cache, largest};
    }

    /** Parameters of the VAE's encoder, decoder and the conv1 / conv2 between them. */
    public long vaeParams() {
        List<Integer> mult = vae.dimMult();
        int n = mult.size();
        long z = vae.zDim(), p = 0;
        // encoder
        long in = vae.dim();
        p += conv(3, in, 27);
        for (int i = 0; i < n; i++) {
            long out = (long) vae.dim() * mult.get(i);
            for (int r = 0; r < vae.numResBlocks(); r++) { p += residual(in, out); in = out; }
            if (i != n - 1) p += conv(out, out, 9) + (vae.temperalDownsample().get(i) ? conv(out, out, 3) : 0);
        }
        p += middle(in) + in + conv(in, 2 * z, 27) + conv(2 * z, 2 * z, 1) + conv(z, z, 1);
        // decoder
        long[] dims = new long[n + 1];
        dims[0] = (long) vae.dim() * mult.get(n - 1);
        for (int i = 0; i < n; i++) dims[i + 1] = (long) vae.dim() * mult.get(n - 1 - i);
        p += conv(z, dims[0], 27) + middle(dims[0]);
        for (int i = 0; i < n; i++) {
            long d = i == 0 ? dims[0] : dims[i] / 2, out = dims[i + 1];
            for (int r = 0; r < vae.numResBlocks() + 1; r++) { p += residual(d, out); d = out; }
            if (i != n - 1) p += conv(out, out / 2, 9) + (vae.temperalUpsample().get(i) ? conv(out, 2 * out, 3) : 0);
        }
        return p + dims[n] + conv(dims[n], 3, 27);
    }

    private static long conv(long in, long out, long k) { return in * out * k + out; }

    private static long residual(long in, long out) { return in + conv(in, out, 27) + out + conv(out, out, 27) + (in != out ? conv(in, out, 1) : 0); }

    private static long middle(long d) { return 2 * residual(d, d) + d + conv(d, 3 * d, 1) + conv(d, d, 1); }

    private static long sum(List<Term> terms) { return terms.stream().mapToLong(Term::bytes).sum(); }

    /** Planned peak device bytes: static + max(block activations, VAE decode chunk). */
    public long peakBytes() { return sum(staticTerms()) + Math.max(sum(blockTerms()), sum(decodeTerms())); }

    /** The plan as text, one term a line, in GB (10⁹ bytes). */
    public String describe() {
        StringBuilder s = new StringBuilder(String.format("%s %dx%dx%d, %s blocks, swap %d, VAE %s, L=%d tokens%n",
                dit, width, height, frames, storage, swap, decodeTiling() == null ? "untiled" : "tiles of " + vaeTile, tokens()));
        line(s, "static", staticTerms());
        line(s, "one DiT block's activations", blockTerms());
        line(s, "one VAE decode chunk", decodeTerms());
        s.append(String.format("peak = static + max(block, decode) = %.3f GB%n", peakBytes() / 1e9));
        return s.toString();
    }

    private static void line(StringBuilder s, String title, List<Term> terms) {
        s.append(String.format("  %s: %.3f GB%n", title, sum(terms) / 1e9));
        for (Term t : terms) s.append(String.format("    %8.3f GB  %s%n", t.bytes() / 1e9, t.name()));
    }

    /** The same render with another swap count. */
    public MemoryPlan withSwap(int n) { return new MemoryPlan(dit, vae, width, height, frames, storage, n, vaeTile); }

    /** The same render with the VAE decoding in tiles of this many latent pixels (0: untiled). */
    public MemoryPlan withDecodeTile(int tile) { return new MemoryPlan(dit, vae, width, height, frames, storage, swap, tile); }

    /** Decode tile sizes tried, largest first (in latent pixels; 32 is 256 output pixels). */
    static final int[] DECODE_TILES = {64, 48, 32, 24, 16};

    /** 0 (untiled) when this plan fits budgetBytes, else the largest decode tile that fits, else the smallest tile. */
    public int chooseDecodeTile(long budgetBytes) {
        if (withDecodeTile(0).peakBytes() <= budgetBytes) return 0;
        for (int t : DECODE_TILES) if (withDecodeTile(t).peakBytes() <= budgetBytes) return t;
        return DECODE_TILES[DECODE_TILES.length - 1];
    }

    /** The smallest swap count whose planned peak fits in budgetBytes; throws when even all blocks swapped do not fit. */
    public int chooseSwap(long budgetBytes) {
        for (int n = 0; n <= dit.numLayers(); n++) if (withSwap(n).peakBytes() <= budgetBytes) return n;
        throw new IllegalArgumentException(String.format("%dx%dx%d needs %.2f GB of device memory even with all %d blocks in host memory, "
                        + "over the budget of %.2f GB; lower the resolution or the frame count",
                width, height, frames, withSwap(dit.numLayers()).peakBytes() / 1e9, dit.numLayers(), budgetBytes / 1e9));
    }
}
