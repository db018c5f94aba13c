// Port of wan/modules/vae.py, the module tree of WanVAE_ / Encoder3d / Decoder3d (its state-dict key names)
package dev.kaze.pipeline.vae;

import dev.kaze.tensor.Weights;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.util.ArrayList;
import java.util.List;

/**
 * Builds the VAE's modules from checkpoint tensors. The only place that knows the key names
 * (those of Wan2.1_VAE.pth, which ComfyUI's wan_2.1_vae.safetensors shares).
 */
final class VaeLoader {
    record Parts(Encoder3d encoder, CausalConv3d conv1, CausalConv3d conv2, Decoder3d decoder) {}

    private final Weights weights;
    private final ScalarType dtype;

    private VaeLoader(Weights weights, ScalarType dtype) {
        this.weights = weights;
        this.dtype = dtype;
    }

    static Parts load(Weights weights, VaeConfig cfg, ScalarType dtype) {
        VaeLoader l = new VaeLoader(weights, dtype);
        int z = cfg.zDim();
        Encoder3d encoder = l.encoder("encoder.", cfg);
        CausalConv3d conv1 = l.conv1x1("conv1", 2 * z, 2 * z);
        CausalConv3d conv2 = l.conv1x1("conv2", z, z);
        Decoder3d decoder = l.decoder("decoder.", cfg);
        return new Parts(encoder, conv1, conv2, decoder);
    }

    private Encoder3d encoder(String p, VaeConfig cfg) {
        List<Integer> mult = cfg.dimMult();
        long[] dims = new long[mult.size() + 1];
        dims[0] = cfg.dim();
        for (int i = 0; i < mult.size(); i++) dims[i + 1] = (long) cfg.dim() * mult.get(i);
        double scale = 1.0;
        CausalConv3d conv1 = conv3(p + "conv1", 3, dims[0]);
        List<VaeBlock> downsamples = new ArrayList<>();
        long outDim = dims[0];
        for (int i = 0; i < mult.size(); i++) {
            long inDim = dims[i];
            outDim = dims[i + 1];
            for (int r = 0; r < cfg.numResBlocks(); r++) {
                downsamples.add(residual(p + "downsamples." + downsamples.size() + ".", inDim, outDim));
                if (cfg.attnScales().contains(scale))
                    downsamples.add(attention(p + "downsamples." + downsamples.size() + ".", outDim));
                inDim = outDim;
            }
            if (i != mult.size() - 1) {
                Resample.Mode mode = cfg.temperalDownsample().get(i) ? Resample.Mode.DOWNSAMPLE_3D : Resample.Mode.DOWNSAMPLE_2D;
                downsamples.add(resample(p + "downsamples." + downsamples.size() + ".", outDim, mode));
                scale /= 2.0;
            }
        }
        List<VaeBlock> middle = middle(p + "middle.", outDim);
        RmsNorm headNorm = norm(p + "head.0.gamma", outDim, false);
        CausalConv3d headConv = conv3(p + "head.2", outDim, 2L * cfg.zDim());
        return new Encoder3d(conv1, downsamples, middle, headNorm, headConv);
    }

    private Decoder3d decoder(String p, VaeConfig cfg) {
        List<Integer> mult = cfg.dimMult();
        int n = mult.size();
        long[] dims = new long[n + 1];
        dims[0] = (long) cfg.dim() * mult.get(n - 1);
        for (int i = 0; i < n; i++) dims[i + 1] = (long) cfg.dim() * mult.get(n - 1 - i);
        double scale = 1.0 / Math.pow(2, n - 2);
        CausalConv3d conv1 = conv3(p + "conv1", cfg.zDim(), dims[0]);
        List<VaeBlock> middle = middle(p + "middle.", dims[0]);
        List<VaeBlock> upsamples = new ArrayList<>();
        long outDim = dims[0];
        List<Boolean> temporal = cfg.temperalUpsample();
        for (int i = 0; i < n; i++) {
            long inDim = dims[i];
            outDim = dims[i + 1];
            if (i == 1 || i == 2 || i == 3) inDim = inDim / 2;   // the previous Resample halved the width
            for (int r = 0; r < cfg.numResBlocks() + 1; r++) {
                upsamples.add(residual(p + "upsamples." + upsamples.size() + ".", inDim, outDim));
                if (cfg.attnScales().contains(scale))
                    upsamples.add(attention(p + "upsamples." + upsamples.size() + ".", outDim));
                inDim = outDim;
            }
            if (i != n - 1) {
                Resample.Mode mode = temporal.get(i) ? Resample.Mode.UPSAMPLE_3D : Resample.Mode.UPSAMPLE_2D;
                upsamples.add(resample(p + "upsamples." + upsamples.size() + ".", outDim, mode));
                scale *= 2.0;
            }
        }
        RmsNorm headNorm = norm(p + "head.0.gamma", outDim, false);
        CausalConv3d headConv = conv3(p + "head.2", outDim, 3);
        return new Decoder3d(conv1, middle, upsamples, headNorm, headConv);
    }

    private List<VaeBlock> middle(String p, long dim) {
        return List.of(residual(p + "0.", dim, dim), attention(p + "1.", dim), residual(p + "2.", dim, dim));
    }

    private ResidualBlock residual(String p, long in, long out) {
        RmsNorm norm1 = norm(p + "residual.0.gamma", in, false);
        CausalConv3d conv1 = conv3(p + "residual.2", in, out);
        RmsNorm norm2 = norm(p + "residual.3.gamma", out, false);
        CausalConv3d conv2 = conv3(p + "residual.6", out, out);
        CausalConv3d shortcut = in != out ? CausalConv3d.k1(
                take(p + "shortcut.weight", out, in, 1, 1, 1), take(p + "shortcut.bias", out)) : null;
        return new ResidualBlock(norm1, conv1, norm2, conv2, shortcut);
    }

    private AttentionBlock attention(String p, long dim) {
        return new AttentionBlock(norm(p + "norm.gamma", dim, true),
                take(p + "to_qkv.weight", 3 * dim, dim, 1, 1), take(p + "to_qkv.bias", 3 * dim),
                take(p + "proj.weight", dim, dim, 1, 1), take(p + "proj.bias", dim));
    }

    private Resample resample(String p, long dim, Resample.Mode mode) {
        long spatialOut = mode.up() ? dim / 2 : dim;
        Tensor w = take(p + "resample.1.weight", spatialOut, dim, 3, 3);
        Tensor b = take(p + "resample.1.bias", spatialOut);
        CausalConv3d timeConv = switch (mode) {
            case UPSAMPLE_3D -> new CausalConv3d(take(p + "time_conv.weight", 2 * dim, dim, 3, 1, 1),
                    take(p + "time_conv.bias", 2 * dim), new long[]{1, 0, 0}, new long[]{1, 1, 1});
            case DOWNSAMPLE_3D -> new CausalConv3d(take(p + "time_conv.weight", dim, dim, 3, 1, 1),
                    take(p + "time_conv.bias", dim), new long[]{0, 0, 0}, new long[]{2, 1, 1});
            case UPSAMPLE_2D, DOWNSAMPLE_2D -> null;
        };
        return new Resample(mode, w, b, timeConv);
    }

    private CausalConv3d conv3(String key, long in, long out) {
        return CausalConv3d.k3(take(key + ".weight", out, in, 3, 3, 3), take(key + ".bias", out));
    }

    private CausalConv3d conv1x1(String key, long in, long out) {
        return CausalConv3d.k1(take(key + ".weight", out, in, 1, 1, 1), take(key + ".bias", out));
    }

    private RmsNorm norm(String key, long dim, boolean images) {
        Tensor gamma = images ? take(key, dim, 1, 1) : take(key, dim, 1, 1, 1);
        return new RmsNorm(gamma, dim);
    }

    private Tensor take(String key, long... shape) {
        return weights.take(key, dtype, shape);
    }
}
