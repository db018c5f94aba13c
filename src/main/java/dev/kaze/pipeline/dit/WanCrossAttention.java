// Port of wan/modules/model.py, WanT2VCrossAttention.forward (with NAG as in the NAG reference processor).
package dev.kaze.pipeline.dit;

import dev.kaze.pipeline.guidance.Nag;
import org.bytedeco.pytorch.Tensor;

/**
 * Text cross-attention over all text_len context rows (the zero padding is not masked, as in the
 * reference). With NAG, the same queries also attend to the NAG-negative context and the two
 * outputs are combined before the o projection.
 */
final class WanCrossAttention {
    final AttentionProjections projections;

    WanCrossAttention(AttentionProjections projections) { this.projections = projections; }

    /** q: [B, N, L, D], context: [B, Lc, C] -> attention output [B, L, C] before o, with these queries. */
    private Tensor attend(Tensor q, Tensor context, long b, long s, long n, long d) {
        AttentionProjections p = projections;
        Tensor k = p.key(context).view(b, -1, n, d).transpose(1, 2);           // k: [B, N, Lc, D]
        Tensor v = p.v.forward(context).view(b, -1, n, d).transpose(1, 2);     // v: [B, N, Lc, D]
        Tensor a = Attention.forward(q, k.to(q.scalar_type()), v.to(q.scalar_type())); // a: [B, N, L, D]
        return a.transpose(1, 2).reshape(b, s, n * d);                         // [B, L, C]
    }

    /** x: [B, L, C] (after norm3), context: [B, Lc, C]; nagContext and nag may be null. -> [B, L, C] */
    Tensor forward(Tensor x, Tensor context, Tensor nagContext, Nag nag) {
        AttentionProjections p = projections;
        long b = x.size(0), s = x.size(1), n = p.numHeads, d = x.size(2) / p.numHeads;
        Tensor q = p.query(x).view(b, s, n, d).transpose(1, 2);                // q: [B, N, L, D]
        Tensor out = attend(q, context, b, s, n, d);                           // out: [B, L, C]
        if (nag != null && nag.active() && nagContext != null) {
            Tensor negative = attend(q, nagContext, b, s, n, d);               // negative: [B, L, C]
            out = nag.guide(out, negative);                                    // out: [B, L, C]
        }
        return p.o.forward(out);                                               // [B, L, C]
    }
}
