// Port of wan/modules/model.py, WanAttentionBlock.
package dev.kaze.pipeline.dit;

import dev.kaze.pipeline.guidance.Nag;
import dev.kaze.tensor.Linear;
import dev.kaze.tensor.Ops;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

import java.util.function.Function;

import static dev.kaze.tensor.Ops.f32;
import static dev.kaze.tensor.Ops.s;

/** One transformer block: modulated self-attention, cross-attention with norm3, modulated GELU-tanh FFN. */
final class WanAttentionBlock {
    final Tensor modulation;              // [1, 6, C] float32
    final WanSelfAttention selfAttn;
    final Tensor norm3Weight, norm3Bias;  // [C] each, or null when cross_attn_norm is off
    final WanCrossAttention crossAttn;
    final Linear ffn0, ffn2;
    final double eps;

    WanAttentionBlock(Tensor modulation, WanSelfAttention selfAttn, Tensor norm3Weight, Tensor norm3Bias,
                      WanCrossAttention crossAttn, Linear ffn0, Linear ffn2, double eps) {
        this.modulation = modulation;
        this.selfAttn = selfAttn;
        this.norm3Weight = norm3Weight;
        this.norm3Bias = norm3Bias;
        this.crossAttn = crossAttn;
        this.ffn0 = ffn0;
        this.ffn2 = ffn2;
        this.eps = eps;
    }

    /** The same block with adapters on its ten Linears, named by module path under prefix ("blocks.N."). */
    WanAttentionBlock withAdapters(String prefix, Function<String, Linear.Adapter> adapterFor) {
        return new WanAttentionBlock(modulation,
                new WanSelfAttention(selfAttn.projections.withAdapters(prefix + "self_attn.", adapterFor)), norm3Weight, norm3Bias,
                new WanCrossAttention(crossAttn.projections.withAdapters(prefix + "cross_attn.", adapterFor)),
                WanDit.adapt(ffn0, prefix + "ffn.0", adapterFor), WanDit.adapt(ffn2, prefix + "ffn.2", adapterFor), eps);
    }

    /**
     * x: [B, L, C] float32, e0: [B, 6, C] float32, rope: [L, 1, D/2] complex64,
     * context / nagContext: [B, Lc, C] -> [B, L, C] float32.
     */
    Tensor forward(Tensor x, Tensor e0, Tensor rope, Tensor context, Tensor nagContext, Nag nag) {
        TensorVector e = modulation.add(e0).chunk(6, 1);                       // 6 x [B, 1, C] float32
        Tensor shiftMsa = e.get(0), scaleMsa = e.get(1), gateMsa = e.get(2);
        Tensor shiftMlp = e.get(3), scaleMlp = e.get(4), gateMlp = e.get(5);

        Tensor h = modulate(Ops.layerNorm(x, null, null, eps), shiftMsa, scaleMsa);           // [B, L, C] float32
        Tensor y = selfAttn.forward(h, rope);                                                  // [B, L, C]
        x = x.add(gated(y, gateMsa));                                                          // [B, L, C] float32

        Tensor xn = norm3Weight == null ? x : Ops.layerNorm(x, norm3Weight, norm3Bias, eps).to(x.scalar_type());
        x = x.add(f32(crossAttn.forward(xn, context, nagContext, nag)));                      // [B, L, C] float32

        h = modulate(Ops.layerNorm(x, null, null, eps), shiftMlp, scaleMlp);                  // [B, L, C] float32
        Tensor hidden = ffn0.forward(h);                                                       // [B, L, ffn_dim]
        hidden = hidden.requires_grad() ? torch.gelu(hidden, "tanh") : torch.gelu_(hidden, "tanh");
        return x.add(gated(ffn2.forward(hidden), gateMlp));                                    // [B, L, C] float32
    }

    /** norm · (1 + scale) + shift; norm is a fresh LayerNorm output, updated in place unless it needs grad. */
    private static Tensor modulate(Tensor norm, Tensor shift, Tensor scale) {
        Tensor scale1 = scale.add(s(1));                                       // [B, 1, C]
        return norm.requires_grad() ? norm.mul(scale1).add(shift) : norm.mul_(scale1).add_(shift);
    }

    /** y.float() · gate; y is a fresh Linear output, scaled in place unless it needs grad (or was not float32). */
    private static Tensor gated(Tensor y, Tensor gate) {
        Tensor yf = f32(y);
        return yf.requires_grad() ? yf.mul(gate) : yf.mul_(gate);
    }
}
