// Port of wan/modules/vae.py, Resample (and its Upsample, nearest-exact in float32)
package dev.kaze.pipeline.vae;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * Halves or doubles height and width frame by frame, and in the 3-D modes also time, with a
 * causal time convolution ({@code time_conv}) that carries frames between chunks.
 *
 * @param resampleWeight the spatial conv {@code resample.1}: [dim, dim, 3, 3] down, [dim/2, dim, 3, 3] up
 * @param timeConv       3-D modes only (else null): [dim, dim, 3, 1, 1] stride 2 down, [2·dim, dim, 3, 1, 1] up
 */
record Resample(Mode mode, Tensor resampleWeight, Tensor resampleBias, CausalConv3d timeConv) implements VaeBlock {
    enum Mode {
        UPSAMPLE_2D, UPSAMPLE_3D, DOWNSAMPLE_2D, DOWNSAMPLE_3D;

        boolean up() { return this == UPSAMPLE_2D || this == UPSAMPLE_3D; }

        boolean temporal() { return this == UPSAMPLE_3D || this == DOWNSAMPLE_3D; }
    }

    private static final long[] ONE = {1, 1};
    private static final long[] TWO = {2, 2};
    private static final long[] ZERO = {0, 0};

    Resample {
        if (mode.temporal() != (timeConv != null))
            throw new IllegalArgumentException(mode + " " + (mode.temporal() ? "needs" : "has no") + " time_conv");
    }

    @Override
    public Tensor forward(Tensor x, FeatureCache cache) {
        // x: [b, c, t, h, w]
        long b = x.size(0), c = x.size(1), t = x.size(2);
        if (mode == Mode.UPSAMPLE_3D && cache != null) x = upsampleTime(x, cache.of(this), b, c, t);
        t = x.size(2);                                                            // t: 2t after doubling
        long h = x.size(3), w = x.size(4);
        x = x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w);                    // x: [b*t, c, h, w]
        x = spatial(x);                                                           // x: [b*t, c', h', w']
        x = x.reshape(b, t, x.size(1), x.size(2), x.size(3)).permute(0, 2, 1, 3, 4); // x: [b, c', t, h', w']
        if (mode == Mode.DOWNSAMPLE_3D && cache != null) x = downsampleTime(x, cache.of(this));
        return x;
    }

    private Tensor spatial(Tensor x) {
        if (mode.up()) {
            // nn.Upsample(scale 2, nearest-exact), computed in float32; for a factor of 2 it is plain nearest
            Tensor up = torch.upsample_nearest2d(x.to(torch.ScalarType.Float), 2 * x.size(2), 2 * x.size(3))
                    .to(x.scalar_type());                                         // up: [n, c, 2h, 2w]
            return torch.conv2d(up, resampleWeight, new TensorOptional(resampleBias), ONE, ONE, ONE, 1); // [n, c/2, 2h, 2w]
        }
        Tensor padded = torch.constant_pad_nd(x, 0, 1, 0, 1);                    // ZeroPad2d((0,1,0,1)): [n, c, h+1, w+1]
        return torch.conv2d(padded, resampleWeight, new TensorOptional(resampleBias), TWO, ZERO, ONE, 1); // [n, c, h/2, w/2]
    }

    /**
     * upsample3d: the first chunk passes unchanged and leaves the marker 'Rep'; later chunks go
     * through time_conv (zero padding after 'Rep', else the kept frames) and every frame becomes
     * two: frame 2i from output channels [0:c], frame 2i+1 from [c:2c].
     */
    private Tensor upsampleTime(Tensor x, FeatureCache.Frames slot, long b, long c, long t) {
        if (slot.isEmpty()) {
            slot.markRep();
            return x;
        }
        long h = x.size(3), w = x.size(4);
        Tensor cacheX = CausalConv3d.lastFrames(x, FeatureCache.CACHE_T).clone();  // cache_x: [b, c, ≤2, h, w]
        if (cacheX.size(2) < FeatureCache.CACHE_T && !slot.isRep())
            cacheX = torch.cat(new TensorVector(CausalConv3d.lastFrames(slot.frames(), 1), cacheX), 2);
        if (cacheX.size(2) < FeatureCache.CACHE_T && slot.isRep())
            cacheX = torch.cat(new TensorVector(torch.zeros_like(cacheX), cacheX), 2);
        x = slot.isRep() ? timeConv.forward(x, (Tensor) null) : timeConv.forward(x, slot.frames()); // x: [b, 2c, t, h, w]
        slot.set(cacheX);
        x = x.reshape(b, 2, c, t, h, w);                                          // x: [b, 2, c, t, h, w]
        x = torch.stack(new TensorVector(x.select(1, 0), x.select(1, 1)), 3);     // x: [b, c, t, 2, h, w]
        return x.reshape(b, c, t * 2, h, w);                                      // x: [b, c, 2t, h, w]
    }

    /**
     * downsample3d, after the spatial op: the first chunk passes unchanged (it is kept); later
     * chunks are prefixed with the last frame kept and go through time_conv (stride 2, no padding).
     * Only the last frame of the first chunk is ever read, so only that one is kept.
     */
    private Tensor downsampleTime(Tensor x, FeatureCache.Frames slot) {
        // x: [b, c, t, h, w]
        if (slot.isEmpty()) {
            slot.set(CausalConv3d.lastFrames(x, 1).clone());
            return x;
        }
        Tensor cacheX = CausalConv3d.lastFrames(x, 1).clone();                   // cache_x: [b, c, 1, h, w]
        x = timeConv.forward(torch.cat(new TensorVector(CausalConv3d.lastFrames(slot.frames(), 1), x), 2), (Tensor) null);
        slot.set(cacheX);                                                        // x: [b, c, (t+1-3)/2+1, h, w]
        return x;
    }
}
