// Port of wan/modules/model.py, WanSelfAttention.
package dev.kaze.pipeline.dit;

import dev.kaze.tensor.Linear;
import org.bytedeco.pytorch.Tensor;

import static dev.kaze.tensor.Ops.f32;

/** Global self-attention with RMSNorm on q and k (over all heads) and 3-D RoPE. */
final class WanSelfAttention {
    final Linear q, k, v, o;
    final WanRmsNorm normQ, normK;   // null when qk_norm is off
    final int numHeads;

    WanSelfAttention(Linear q, Linear k, Linear v, Linear o, WanRmsNorm normQ, WanRmsNorm normK, int numHeads) {
        this.q = q; this.k = k; this.v = v; this.o = o;
        this.normQ = normQ; this.normK = normK;
        this.numHeads = numHeads;
    }

    /** The same layer with adapters on q, k, v, o (module names prefix + "q" ...; a null adapter leaves one as is). */
    WanSelfAttention withAdapters(String prefix, java.util.function.Function<String, Linear.Adapter> adapterFor) {
        return new WanSelfAttention(WanDit.adapt(q, prefix + "q", adapterFor), WanDit.adapt(k, prefix + "k", adapterFor),
                WanDit.adapt(v, prefix + "v", adapterFor), WanDit.adapt(o, prefix + "o", adapterFor), normQ, normK, numHeads);
    }

    /** x: [B, L, C], rope: [L, 1, D/2] complex64 from {@link RopeFreqs#table} -> [B, L, C]. */
    Tensor forward(Tensor x, Tensor rope) {
        long b = x.size(0), s = x.size(1), n = numHeads, d = x.size(2) / numHeads;
        Tensor qx = q.forward(x), kx = k.forward(x);                          // [B, L, C]
        if (normQ != null) { qx = normQ.forward(qx); kx = normK.forward(kx); }
        Tensor qh = RopeFreqs.apply(f32(qx).view(b, s, n, d), rope);           // [B, L, N, D] float32
        Tensor kh = RopeFreqs.apply(f32(kx).view(b, s, n, d), rope);           // [B, L, N, D] float32
        Tensor vh = v.forward(x).view(b, s, n, d);                             // [B, L, N, D]
        var dtype = vh.scalar_type();
        Tensor a = Attention.forward(qh.to(dtype).transpose(1, 2), kh.to(dtype).transpose(1, 2), vh.transpose(1, 2)); // [B, N, L, D]
        return o.forward(a.transpose(1, 2).reshape(b, s, n * d));              // [B, L, C]
    }
}
