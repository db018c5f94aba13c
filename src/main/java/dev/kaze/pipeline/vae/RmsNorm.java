// Port of wan/modules/vae.py, RMS_norm (channel_first, bias=False)
package dev.kaze.pipeline.vae;

import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * F.normalize(x, dim=1) · sqrt(C) · gamma: each position's channel vector scaled to length
 * sqrt(C) (L2 norm clamped at 1e-12), then per channel by gamma.
 *
 * @param gamma [C, 1, 1, 1] for video tensors, [C, 1, 1] for per-frame images
 */
record RmsNorm(Tensor gamma, long dim) {
    private static final double EPS = 1e-12;

    Tensor forward(Tensor x) {
        // x: [B, C, T, H, W] or [B, C, H, W]
        Tensor denom = torch.linalg_vector_norm(x, new Scalar(2.0), new long[]{1}, true, new ScalarTypeOptional())
                .clamp_min(new Scalar(EPS)).expand_as(x);                         // denom: like x
        return x.div(denom).mul(new Scalar(Math.sqrt(dim))).mul(gamma);
    }
}
