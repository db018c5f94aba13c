// Port of wan/modules/model.py, the modules of WanSelfAttention.__init__ (q, k, v, o, norm_q, norm_k), which WanT2VCrossAttention inherits.
package dev.kaze.pipeline.dit;

import dev.kaze.tensor.Linear;
import org.bytedeco.pytorch.Tensor;

import java.util.List;
import java.util.function.Function;

/**
 * The q, k, v, o Linears of one attention layer and its RMSNorms on q and k (over all heads, before
 * splitting into them). {@link WanSelfAttention} and {@link WanCrossAttention} each compute with
 * one of these in their own forward pass.
 */
final class AttentionProjections {
    final Linear q, k, v, o;
    final WanRmsNorm normQ, normK;   // null when qk_norm is off
    final int numHeads;

    AttentionProjections(Linear q, Linear k, Linear v, Linear o, WanRmsNorm normQ, WanRmsNorm normK, int numHeads) {
        this.q = q; this.k = k; this.v = v; this.o = o;
        this.normQ = normQ; this.normK = normK;
        this.numHeads = numHeads;
    }

    /** q, k, v, o in this order (what block swap streams). */
    List<Linear> linears() { return List.of(q, k, v, o); }

    /** The same projections computing with these Linears in place of q, k, v, o (the norms kept). */
    AttentionProjections withLinears(Linear q, Linear k, Linear v, Linear o) {
        return new AttentionProjections(q, k, v, o, normQ, normK, numHeads);
    }

    /** The same projections with adapters on q, k, v, o (module names prefix + "q" ...; a null adapter leaves one as is). */
    AttentionProjections withAdapters(String prefix, Function<String, Linear.Adapter> adapterFor) {
        return withLinears(WanDit.adapt(q, prefix + "q", adapterFor), WanDit.adapt(k, prefix + "k", adapterFor),
                WanDit.adapt(v, prefix + "v", adapterFor), WanDit.adapt(o, prefix + "o", adapterFor));
    }

    /** norm_q(Linear_q(x)): x [B, L, C] -> [B, L, C]. */
    Tensor query(Tensor x) {
        Tensor q = this.q.forward(x);                                          // q: [B, L, C]
        return normQ == null ? q : normQ.forward(q);                           // [B, L, C]
    }

    /** norm_k(Linear_k(x)): x [B, L, C] -> [B, L, C]. */
    Tensor key(Tensor x) {
        Tensor k = this.k.forward(x);                                          // k: [B, L, C]
        return normK == null ? k : normK.forward(k);                           // [B, L, C]
    }
}
