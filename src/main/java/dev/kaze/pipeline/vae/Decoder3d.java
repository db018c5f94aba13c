// Port of wan/modules/vae.py, Decoder3d
package dev.kaze.pipeline.vae;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import java.util.List;

/**
 * conv1 (z_dim → widest) → middle (residual, attention, residual) → upsamples (residual blocks,
 * attention where configured, Resample between stages) → head (RMS_norm, SiLU, conv to RGB).
 */
record Decoder3d(CausalConv3d conv1, List<VaeBlock> middle, List<VaeBlock> upsamples, RmsNorm headNorm,
                 CausalConv3d headConv) {
    Decoder3d {
        middle = List.copyOf(middle);
        upsamples = List.copyOf(upsamples);
    }

    Tensor forward(Tensor x, FeatureCache cache) {
        // x: [B, z_dim, T, h, w]
        x = conv1.forward(x, cache);                 // x: [B, dims[0], T, h, w]
        for (VaeBlock layer : middle) x = layer.forward(x, cache);
        for (VaeBlock layer : upsamples) x = layer.forward(x, cache);
        x = torch.silu(headNorm.forward(x));         // x: [B, dim, T', h·s, w·s]
        return headConv.forward(x, cache);           // x: [B, 3, T', h·s, w·s]
    }
}
