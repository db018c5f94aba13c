// Port of wan/modules/model.py, WanSelfAttention.forward.
package dev.kaze.pipeline.dit;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

import static dev.kaze.tensor.Ops.f32;

/** Global self-attention with RMSNorm on q and k (over all heads) and 3-D RoPE. */
final class WanSelfAttention {
    final AttentionProjections projections;

    WanSelfAttention(AttentionProjections projections) { this.projections = projections; }

    /** x: [B, L, C], freqs: [L, 1, D/2] complex64 from {@link RopeFreqs#table} -> [B, L, C]. */
    Tensor forward(Tensor x, Tensor freqs) {
        AttentionProjections p = projections;
        long b = x.size(0), s = x.size(1), n = p.numHeads, d = x.size(2) / p.numHeads;
        Tensor q = RopeFreqs.apply(f32(p.query(x)).view(b, s, n, d), freqs);   // q: [B, L, N, D] float32
        Tensor k = RopeFreqs.apply(f32(p.key(x)).view(b, s, n, d), freqs);     // k: [B, L, N, D] float32
        Tensor v = p.v.forward(x).view(b, s, n, d);                            // v: [B, L, N, D]
        ScalarType dtype = v.scalar_type();
        Tensor a = Attention.forward(q.to(dtype).transpose(1, 2), k.to(dtype).transpose(1, 2), v.transpose(1, 2)); // a: [B, N, L, D]
        return p.o.forward(a.transpose(1, 2).reshape(b, s, n * d));            // [B, L, C]
    }
}
