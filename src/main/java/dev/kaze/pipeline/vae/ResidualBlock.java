// Port of wan/modules/vae.py, ResidualBlock
package dev.kaze.pipeline.vae;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * residual = [RMS_norm, SiLU, CausalConv3d 3³, RMS_norm, SiLU, Dropout(0), CausalConv3d 3³];
 * y = residual(x) + shortcut(x), the shortcut a 1³ conv when the width changes (else null).
 */
record ResidualBlock(RmsNorm norm1, CausalConv3d conv1, RmsNorm norm2, CausalConv3d conv2, CausalConv3d shortcut)
        implements VaeBlock {

    @Override
    public Tensor forward(Tensor x, FeatureCache cache) {
        // x: [B, in, T, H, W]
        Tensor h = shortcut == null ? x : shortcut.forward(x, (Tensor) null);   // h: [B, out, T, H, W]
        x = torch.silu(norm1.forward(x));                                        // x: [B, in, T, H, W]
        x = conv1.forward(x, cache);                                             // x: [B, out, T, H, W]
        x = torch.silu(norm2.forward(x));                                        // x: [B, out, T, H, W] (dropout 0)
        x = conv2.forward(x, cache);                                             // x: [B, out, T, H, W]
        return x.add(h);
    }
}
