// Port of wan/modules/vae.py, CausalConv3d (and the cached call repeated in ResidualBlock, Encoder3d, Decoder3d)
package dev.kaze.pipeline.vae;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * A 3-D convolution that pads time only in front (2·p_t zero frames, none behind) and space
 * symmetrically, so an output frame depends on its own and earlier input frames only. Frames
 * of the previous chunk, when given, take the place of the front zero frames.
 *
 * @param weight  [out, in, kt, kh, kw]
 * @param bias    [out]
 * @param padding (p_t, p_h, p_w) as given to the reference constructor
 * @param stride  (s_t, s_h, s_w)
 */
record CausalConv3d(Tensor weight, Tensor bias, long[] padding, long[] stride) {
    private static final long[] DILATION = {1, 1, 1};
    private static final long[] NO_PADDING = {0, 0, 0};

    CausalConv3d {
        padding = padding.clone();
        stride = stride.clone();
    }

    /** Kernel 3 in every dimension, padding 1, stride 1 (the convs of ResidualBlock, conv1, head). */
    static CausalConv3d k3(Tensor weight, Tensor bias) {
        return new CausalConv3d(weight, bias, new long[]{1, 1, 1}, new long[]{1, 1, 1});
    }

    /** Kernel 1, no padding (shortcuts, WanVAE_.conv1/conv2): never needs a cache. */
    static CausalConv3d k1(Tensor weight, Tensor bias) {
        return new CausalConv3d(weight, bias, new long[]{0, 0, 0}, new long[]{1, 1, 1});
    }

    /** CausalConv3d.forward(x, cache_x): cacheX (frames before x, or null) replaces front padding. */
    Tensor forward(Tensor x, Tensor cacheX) {
        // x: [B, C, T, H, W]
        long front = 2 * padding[0];
        if (cacheX != null && front > 0) {
            x = torch.cat(new TensorVector(cacheX, x), 2);   // x: [B, C, Tc + T, H, W]
            front -= cacheX.size(2);
        }
        if (front != 0 || padding[1] != 0 || padding[2] != 0)
            x = torch.constant_pad_nd(x, padding[2], padding[2], padding[1], padding[1], front, 0);
        // y: [B, out, T', H', W']
        return torch.conv3d(x, weight, new TensorOptional(bias), stride, NO_PADDING, DILATION, 1);
    }

    /**
     * The cached call of the reference: the last {@value FeatureCache#CACHE_T} input frames are
     * kept for the next chunk (a single frame is completed with the last frame kept before), and
     * the frames kept before stand in for the front padding. Without a cache, a plain call.
     */
    Tensor forward(Tensor x, FeatureCache cache) {
        if (cache == null) return forward(x, (Tensor) null);
        FeatureCache.Frames slot = cache.of(this);
        Tensor old = slot.frames();
        Tensor cacheX = lastFrames(x, FeatureCache.CACHE_T).clone();   // cache_x: [B, C, ≤2, H, W]
        if (cacheX.size(2) < FeatureCache.CACHE_T && old != null)
            cacheX = torch.cat(new TensorVector(lastFrames(old, 1), cacheX), 2);
        Tensor y = forward(x, old);
        slot.set(cacheX);
        return y;
    }

    /** x[:, :, -n:] */
    static Tensor lastFrames(Tensor x, int n) {
        long t = x.size(2);
        long k = Math.min(t, n);
        return x.narrow(2, t - k, k);
    }
}
