// softmax(q kᵀ / √D) v as in wan/modules/attention.py (flash_attention without masks), CPU inference path.
package dev.kaze.pipeline.dit;

import dev.kaze.tensor.Ops;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import static dev.kaze.tensor.Ops.s;

/**
 * Unmasked attention over [B, N, L, D] queries and [B, N, Lk, D] keys and values (any strides).
 * On the CPU in float32 without autograd it runs as explicit GEMMs, a few heads at a time:
 * scores = (q kᵀ)·(1/√D) by baddbmm into one reused buffer, softmax in place, then scores·v written
 * straight into a [B, L, N, D] buffer, so merging the heads afterwards is a free view. That is about
 * 1.4× as fast as the CPU flash kernel of scaled_dot_product_attention on 2 cores at L = 2,304 (and
 * degrades far less when the cores are shared). The softmax is exact over each full row of keys, so
 * chunking only bounds memory and does not change the result.
 * With autograd (CPU LoRA training) the same GEMMs run out of place while all scores fit the bound,
 * else scaled_dot_product_attention; a GPU or bfloat16 always takes scaled_dot_product_attention.
 */
final class Attention {
    /** Heads per GEMM batch (on 2 cores 4 beat 1, 2, 6 and 12, and beat row chunks of the same heads). */
    static final long HEADS_PER_CHUNK = 4;
    /**
     * Bound on the scores buffer: query rows are chunked so that heads × rows × Lk floats stay within
     * 128 MiB (all 2,304 rows at once for the benchmark's L = 2,304, 85 MB; 256 rows at a time for
     * L = 32,760, the 81-frame 480×832 latent, whose whole score matrix of 4 heads would be 17 GB).
     */
    static final long SCORES_BYTES = 128L << 20;

    private Attention() {}

    /** q: [B, N, L, D], k, v: [B, N, Lk, D] -> [B, N, L, D] (a transposed view of a [B, L, N, D] tensor on the explicit path). */
    static Tensor forward(Tensor q, Tensor k, Tensor v) {
        return forward(q, k, v, SCORES_BYTES);
    }

    /** {@link #forward(Tensor, Tensor, Tensor)} with scores chunked to scoresBytes (tests force several chunks). */
    static Tensor forward(Tensor q, Tensor k, Tensor v, long scoresBytes) {
        if (!explicit(q, k, v)) return Ops.attention(q, k, v);
        long b = q.size(0), n = q.size(1), l = q.size(2), d = q.size(3), lk = k.size(2);
        long g = Math.min(HEADS_PER_CHUNK, n), r = Math.clamp(scoresBytes / (g * lk * Float.BYTES), 1, l);
        double scale = 1.0 / Math.sqrt(d);
        if (needsGrad(q, k, v)) {
            // autograd keeps every chunk's scores for the backward pass: the same GEMMs and softmax out of place,
            // so that a forward with grad gives the very numbers of one without (a zero LoRA changes nothing)
            if (n * l * lk * Float.BYTES > scoresBytes) return Ops.attention(q, k, v);
            return torch.bmm(torch.softmax(torch.baddbmm(torch.empty(b * n, l, lk), q.flatten(0, 1), k.flatten(0, 1).transpose(1, 2),
                    s(0), s(scale)), -1), v.flatten(0, 1)).unflatten(0, b, n);                    // [B, N, L, D]
        }
        TensorOptions f32 = new TensorOptions(ScalarType.Float);
        Tensor out = torch.empty(new long[]{b, l, n, d}, f32, new MemoryFormatOptional()).transpose(1, 2);   // [B, N, L, D] view of [B, L, N, D]
        Tensor scores = torch.empty(new long[]{g, r, lk}, f32, new MemoryFormatOptional());                   // [g, r, Lk]
        for (long i = 0; i < b; i++) {
            Tensor qi = q.select(0, i), ki = k.select(0, i), vi = v.select(0, i), oi = out.select(0, i);   // [N, L, D] ...
            for (long h = 0; h < n; h += g) {
                long gh = Math.min(g, n - h);
                Tensor kt = ki.narrow(0, h, gh).transpose(1, 2), vh = vi.narrow(0, h, gh);              // [gh, D, Lk], [gh, Lk, D]
                for (long j = 0; j < l; j += r) {
                    long rj = Math.min(r, l - j);
                    Tensor sc = scores.narrow(0, 0, gh).narrow(1, 0, rj);                               // [gh, rj, Lk]
                    torch.baddbmm_out(sc, sc, qi.narrow(0, h, gh).narrow(1, j, rj), kt, s(0), s(scale));
                    torch.softmax_out(sc, sc, -1);
                    torch.bmm_out(oi.narrow(0, h, gh).narrow(1, j, rj), sc, vh);                        // [gh, rj, D]
                }
            }
        }
        return out;
    }

    private static boolean explicit(Tensor q, Tensor k, Tensor v) {
        for (Tensor t : new Tensor[]{q, k, v})
            if (!t.is_cpu() || !Ops.same(t.scalar_type(), ScalarType.Float)) return false;
        return true;
    }

    private static boolean needsGrad(Tensor q, Tensor k, Tensor v) {
        return q.requires_grad() || k.requires_grad() || v.requires_grad();
    }
}
