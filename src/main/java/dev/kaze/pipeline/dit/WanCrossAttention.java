// Port of wan/modules/model.py, WanT2VCrossAttention (with NAG as in the NAG reference processor).
package dev.kaze.pipeline.dit;

import dev.kaze.pipeline.guidance.Nag;
import dev.kaze.tensor.Linear;
import org.bytedeco.pytorch.Tensor;

/**
 * Text cross-attention over all text_len context rows (the zero padding is not masked, as in the
 * reference). With NAG, the same queries also attend to the NAG-negative context and the two
 * outputs are combined before the o projection.
 */
final class WanCrossAttention {
    final Linear q, k, v, o;
    final WanRmsNorm normQ, normK;   // null when qk_norm is off
    final int numHeads;

    WanCrossAttention(Linear q, Linear k, Linear v, Linear o, WanRmsNorm normQ, WanRmsNorm normK, int numHeads) {
        this.q = q; this.k = k; this.v = v; this.o = o;
        this.normQ = normQ; this.normK = normK;
        this.numHeads = numHeads;
    }

    /** The same layer with adapters on q, k, v, o (module names prefix + "q" ...; a null adapter leaves one as is). */
    WanCrossAttention withAdapters(String prefix, java.util.function.Function<String, Linear.Adapter> adapterFor) {
        return new WanCrossAttention(WanDit.adapt(q, prefix + "q", adapterFor), WanDit.adapt(k, prefix + "k", adapterFor),
                WanDit.adapt(v, prefix + "v", adapterFor), WanDit.adapt(o, prefix + "o", adapterFor), normQ, normK, numHeads);
    }

    /** x: [B, L, C], context: [B, Lc, C] -> attention output [B, L, C] before o, with these queries. */
    private Tensor attend(Tensor qh, Tensor context, long b, long s, long n, long d) {
        Tensor kx = k.forward(context);                                        // [B, Lc, C]
        if (normK != null) kx = normK.forward(kx);
        Tensor kh = kx.view(b, -1, n, d).transpose(1, 2);                      // [B, N, Lc, D]
        Tensor vh = v.forward(context).view(b, -1, n, d).transpose(1, 2);      // [B, N, Lc, D]
        Tensor a = Attention.forward(qh, kh.to(qh.scalar_type()), vh.to(qh.scalar_type())); // [B, N, L, D]
        return a.transpose(1, 2).reshape(b, s, n * d);                         // [B, L, C]
    }

    /** x: [B, L, C] (after norm3), context: [B, Lc, C]; nagContext and nag may be null. */
    Tensor forward(Tensor x, Tensor context, Tensor nagContext, Nag nag) {
        long b = x.size(0), s = x.size(1), n = numHeads, d = x.size(2) / numHeads;
        Tensor qx = q.forward(x);                                              // [B, L, C]
        if (normQ != null) qx = normQ.forward(qx);
        Tensor qh = qx.view(b, s, n, d).transpose(1, 2);                       // [B, N, L, D]
        Tensor out = attend(qh, context, b, s, n, d);                          // [B, L, C]
        if (nag != null && nag.active() && nagContext != null) {
            Tensor negative = attend(qh, nagContext, b, s, n, d);              // [B, L, C]
            out = nag.guide(out, negative);
        }
        return o.forward(out);                                                 // [B, L, C]
    }
}
