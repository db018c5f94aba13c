// Port of wan/modules/vae.py, AttentionBlock
package dev.kaze.pipeline.vae;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * Single-head self-attention over the pixels of each frame separately (no temporal mixing,
 * so no cache): norm (2-D RMS_norm), to_qkv 1×1 conv, softmax(q kᵀ/√C) v, proj 1×1 conv, plus x.
 */
record AttentionBlock(RmsNorm norm, Tensor toQkvWeight, Tensor toQkvBias, Tensor projWeight, Tensor projBias)
        implements VaeBlock {
    private static final long[] ONE = {1, 1};
    private static final long[] ZERO = {0, 0};

    @Override
    public Tensor forward(Tensor x, FeatureCache cache) {
        Tensor identity = x;                                                      // identity: [b, c, t, h, w]
        long b = x.size(0), c = x.size(1), t = x.size(2), h = x.size(3), w = x.size(4);
        x = x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w);                    // x: [b*t, c, h, w]
        x = norm.forward(x);
        Tensor qkv = torch.conv2d(x, toQkvWeight, new TensorOptional(toQkvBias), ONE, ZERO, ONE, 1); // [b*t, 3c, h, w]
        TensorVector parts = qkv.reshape(b * t, 1, c * 3, -1).permute(0, 1, 3, 2).contiguous().chunk(3, -1);
        Tensor q = parts.get(0), k = parts.get(1), v = parts.get(2);             // q, k, v: [b*t, 1, h*w, c]
        x = torch.scaled_dot_product_attention(q, k, v);                         // x: [b*t, 1, h*w, c]
        x = x.squeeze(1).permute(0, 2, 1).reshape(b * t, c, h, w);               // x: [b*t, c, h, w]
        x = torch.conv2d(x, projWeight, new TensorOptional(projBias), ONE, ZERO, ONE, 1);        // x: [b*t, c, h, w]
        x = x.reshape(b, t, c, h, w).permute(0, 2, 1, 3, 4);                     // x: [b, c, t, h, w]
        return x.add(identity);
    }
}
