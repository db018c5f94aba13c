package dev.kaze.pipeline.guidance;

import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;

import static dev.kaze.tensor.Ops.s;

/**
 * Normalized Attention Guidance (Chen et al.), applied to every text cross-attention output
 * before its o projection: g = p·s − n·(s−1); r = |g|₁/|p|₁ per token; g ← g·min(r, τ)/r;
 * out = α·g + (1−α)·p. Off when scale ≤ 1.
 */
public record Nag(double scale, double tau, double alpha) implements Guidance {
    public Nag {
        if (!Double.isFinite(scale) || scale < 0 || scale > 100)
            throw new IllegalArgumentException("nag scale must be a finite number in [0, 100], got " + scale);
        if (!Double.isFinite(tau) || tau <= 0 || tau > 100)
            throw new IllegalArgumentException("nag tau must be a finite number in (0, 100], got " + tau);
        if (!Double.isFinite(alpha) || alpha < 0 || alpha > 1)
            throw new IllegalArgumentException("nag alpha must be in [0, 1], got " + alpha);
    }

    public boolean active() { return scale > 1.0; }

    @Override public int passesPerStep() { return 1; }

    /**
     * positive, negative: [B, L, C] attention outputs (heads merged) of the same queries against
     * the positive and the NAG-negative context -> guided [B, L, C].
     */
    public Tensor guide(Tensor positive, Tensor negative) {
        // without autograd the [B, L, C] temporaries are updated in place (same arithmetic, fewer buffers)
        boolean inPlace = !positive.requires_grad() && !negative.requires_grad();
        Tensor g = positive.mul(s(scale));                                        // g: [B, L, C]
        g = inPlace ? g.sub_(negative.mul(s(scale - 1))) : g.sub(negative.mul(s(scale - 1)));
        Tensor normPositive = positive.abs().sum(new long[]{-1}, true, new ScalarTypeOptional())
                .clamp_min(s(1e-6));                                              // [B, L, 1]
        Tensor normGuided = g.abs().sum(new long[]{-1}, true, new ScalarTypeOptional())
                .clamp_min(s(1e-6));                                              // [B, L, 1]
        Tensor ratio = normGuided.div(normPositive);                              // [B, L, 1]
        Tensor factor = ratio.clamp_max(s(tau)).div(ratio);                       // [B, L, 1]
        if (!inPlace) return g.mul(factor).mul(s(alpha)).add(positive.mul(s(1 - alpha)));
        return g.mul_(factor).mul_(s(alpha)).add_(positive.mul(s(1 - alpha)));   // [B, L, C]
    }
}
