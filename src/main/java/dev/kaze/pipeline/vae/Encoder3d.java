// Port of wan/modules/vae.py, Encoder3d
package dev.kaze.pipeline.vae;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import java.util.List;

/**
 * conv1 → downsamples (residual blocks, attention where configured, Resample between stages)
 * → middle (residual, attention, residual) → head (RMS_norm, SiLU, conv to 2·z_dim channels).
 */
record Encoder3d(CausalConv3d conv1, List<VaeBlock> downsamples, List<VaeBlock> middle, RmsNorm headNorm,
                 CausalConv3d headConv) {
    Encoder3d {
        downsamples = List.copyOf(downsamples);
        middle = List.copyOf(middle);
    }

    Tensor forward(Tensor x, FeatureCache cache) {
        // x: [B, 3, T, H, W]
        x = conv1.forward(x, cache);                 // x: [B, dims[0], T, H, W]
        for (VaeBlock layer : downsamples) x = layer.forward(x, cache);
        for (VaeBlock layer : middle) x = layer.forward(x, cache);
        x = torch.silu(headNorm.forward(x));         // x: [B, dims[-1], T', H/s, W/s]
        return headConv.forward(x, cache);           // x: [B, 2·z_dim, T', H/s, W/s]
    }
}
