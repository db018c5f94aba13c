// Port of wan/modules/vae.py, WanVAE_ (encode/decode with the chunked feature cache) and WanVAE (latent scaling)
package dev.kaze.pipeline.vae;

import dev.kaze.tensor.Checkpoint;
import dev.kaze.tensor.TensorSource;
import dev.kaze.tensor.Weights;
import dev.kaze.tensor.WeightsException;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;

/**
 * The Wan2.1 video VAE: RGB video [B, 3, T, H, W] in [-1, 1] ↔ normalised latents
 * [B, z_dim, 1 + (T-1)/4, H/8, W/8] (for the Wan2.1 strides). Both directions run causally in
 * chunks as the reference does — encode takes the first frame alone, then 4 frames at a time;
 * decode takes one latent frame at a time — with each causal layer carrying its last input
 * frames to the next chunk, so memory is bounded by one chunk's activations plus ≤2 frames per
 * layer. Weights and constants live in this object's pointer scope until {@link #close()}.
 */
public final class WanVae implements AutoCloseable {
    private final PointerScope scope;
    private final VaeConfig config;
    private final LatentScale latentScale;
    private final ScalarType dtype;
    private final Device device;
    private final Encoder3d encoder;
    private final CausalConv3d conv1;
    private final CausalConv3d conv2;
    private final Decoder3d decoder;
    private final Tensor mean;     // mean: [1, z, 1, 1, 1] float32
    private final Tensor invStd;   // invStd: [1, z, 1, 1, 1] float32, 1/std as the reference's scale[1]

    private WanVae(PointerScope scope, VaeConfig config, LatentScale latentScale, ScalarType dtype, Device device,
                   VaeLoader.Parts parts, Tensor mean, Tensor invStd) {
        this.scope = scope;
        this.config = config;
        this.latentScale = latentScale;
        this.dtype = dtype;
        this.device = device;
        this.encoder = parts.encoder();
        this.conv1 = parts.conv1();
        this.conv2 = parts.conv2();
        this.decoder = parts.decoder();
        this.mean = mean;
        this.invStd = invStd;
    }

    /**
     * Loads a VAE checkpoint (Wan2.1_VAE.pth or a .safetensors such as wan_2.1_vae.safetensors). The shape comes from the
     * file's metadata entry {@code config} when present, else from the tensor shapes; the latent
     * normalisation from that entry's {@code latents_mean}/{@code latents_std}, else {@link LatentScale#WAN21}.
     */
    public static WanVae load(Path file, Device device, ScalarType dtype) {
        try (TensorSource ckpt = TensorSource.open(file)) {
            String json = ckpt instanceof Checkpoint c ? c.metadata().get("config") : null;
            VaeConfig config;
            LatentScale latentScale;
            try {
                config = json == null ? VaeConfig.detect(ckpt) : VaeConfig.fromJson(json);
                latentScale = LatentScale.fromConfigJson(json);
            } catch (IllegalArgumentException e) {
                throw new WeightsException("VAE checkpoint " + file + " has an unusable 'config' metadata entry: "
                        + e.getMessage() + "; fix or remove it (without it the Wan2.1 shape is assumed)", e);
            }
            return build(new Weights(ckpt, device), config, latentScale, dtype);
        }
    }

    /**
     * Builds the VAE from weights (converted to dtype on the weights' device) and checks that
     * every key was used exactly as expected ({@link Weights#finish()}).
     */
    public static WanVae build(Weights weights, VaeConfig config, LatentScale latentScale, ScalarType dtype) {
        if (config.zDim() != latentScale.channels())
            throw new IllegalArgumentException("the latent normalisation has " + latentScale.channels()
                    + " channels, but the VAE config has z_dim " + config.zDim());
        PointerScope scope = new PointerScope();
        try {
            VaeLoader.Parts parts = VaeLoader.load(weights, config, dtype);
            weights.finish();
            Tensor mean = constant(latentScale.mean(), weights.device());
            Tensor invStd = constant(latentScale.std(), weights.device()).reciprocal();
            scope.extend().close();   // leave the scope stack but keep the weights until close()
            return new WanVae(scope, config, latentScale, dtype, weights.device(), parts, mean, invStd);
        } catch (RuntimeException e) {
            scope.close();
            throw e;
        }
    }

    private static Tensor constant(float[] values, Device device) {
        Tensor t = torch.from_blob(new FloatPointer(values), values.length).clone();   // t: [z] float32
        return t.to(device, ScalarType.Float).reshape(1, values.length, 1, 1, 1);
    }

    public VaeConfig config() { return config; }

    public LatentScale latentScale() { return latentScale; }

    /**
     * Encodes video [B, 3, T, H, W] in [-1, 1] into the normalised latent mean
     * [B, z_dim, 1 + (T-1)/4, H/8, W/8] (float32). T should be 4k+1; like the reference, trailing
     * frames that do not fill a chunk of 4 are ignored. The result belongs to the caller's pointer scope.
     */
    public Tensor encode(Tensor video) {
        if (video.dim() != 5 || video.size(1) != 3 || video.size(2) < 1)
            throw new IllegalArgumentException("VAE encode expects video [B, 3, T, H, W] with T >= 1, got " + shape(video));
        PointerScope outer = PointerScope.getInnerScope();
        int ts = config.temporalStride();
        Tensor result;
        try (PointerScope call = new PointerScope(); FeatureCache cache = new FeatureCache()) {
            Tensor x = video.to(device, dtype);                                            // x: [B, 3, T, H, W]
            long t = x.size(2);
            long iter = 1 + (t - 1) / ts;
            List<Tensor> outs = new ArrayList<>();
            for (long i = 0; i < iter; i++) {
                try (PointerScope chunk = new PointerScope()) {
                    Tensor xi = i == 0 ? x.narrow(2, 0, 1) : x.narrow(2, 1 + ts * (i - 1), ts); // xi: [B, 3, 1|4, H, W]
                    Tensor out = encoder.forward(xi, cache);                          // out: [B, 2z, 1, H/8, W/8] (Wan2.1 strides)
                    call.attach(out);
                    outs.add(out);
                }
            }
            Tensor out = torch.cat(new TensorVector(outs.toArray(Tensor[]::new)), 2);  // out: [B, 2z, F, H/8, W/8]
            Tensor mu = conv1.forward(out, (Tensor) null).chunk(2, 1).get(0);          // mu: [B, z, F, H/8, W/8]
            result = mu.to(ScalarType.Float).sub(mean).mul(invStd);
            keep(result, outer);
        }
        return result;
    }

    /**
     * Decodes normalised latents [B, z_dim, F, h, w] into video [B, 3, 1 + 4(F-1), 8h, 8w]
     * (float32, clamped to [-1, 1]). The result belongs to the caller's pointer scope.
     */
    public Tensor decode(Tensor latent) {
        PointerScope outer = PointerScope.getInnerScope();
        Tensor result;
        try (PointerScope call = new PointerScope()) {
            List<Tensor> chunks = new ArrayList<>();
            decode(latent, chunk -> {
                call.attach(chunk);
                chunks.add(chunk);
            });
            result = chunks.size() == 1 ? chunks.getFirst() : torch.cat(new TensorVector(chunks.toArray(Tensor[]::new)), 2);
            keep(result, outer);
        }
        return result;
    }

    /**
     * Decodes normalised latents [B, z_dim, F, h, w] one latent frame at a time and hands each
     * decoded chunk [B, 3, n, 8h, 8w] (float32, clamped to [-1, 1]; n = 1 for the first latent
     * frame, 4 after) to {@code frames}, in order. A chunk is freed when the consumer returns:
     * copy it or call {@code retainReference()} to keep it. Only one chunk's activations and the
     * per-layer caches are alive at any time.
     */
    public void decode(Tensor latent, Consumer<Tensor> frames) {
        decode(latent, null, frames);
    }

    /** {@link #decode(Tensor)} in spatial tiles (null: untiled); see {@link DecodeTiling}. */
    public Tensor decode(Tensor latent, DecodeTiling tiling) {
        PointerScope outer = PointerScope.getInnerScope();
        Tensor result;
        try (PointerScope call = new PointerScope()) {
            List<Tensor> chunks = new ArrayList<>();
            decode(latent, tiling, chunk -> {
                call.attach(chunk);
                chunks.add(chunk);
            });
            result = chunks.size() == 1 ? chunks.getFirst() : torch.cat(new TensorVector(chunks.toArray(Tensor[]::new)), 2);
            keep(result, outer);
        }
        return result;
    }

    /**
     * {@link #decode(Tensor, Consumer)} in spatial tiles when tiling is given and the latent is larger
     * than one tile: every latent frame is decoded tile by tile, each tile with causal caches of its
     * own, and the tiles are blended into the chunk (see {@link DecodeTiling}). Only one tile's
     * activations are alive at a time, besides the caches of all tiles and the chunk itself.
     */
    public void decode(Tensor latent, DecodeTiling tiling, Consumer<Tensor> frames) {
        if (latent.dim() == 5 && tiling != null && tiling.splits(latent.size(3), latent.size(4))) {
            decodeTiled(latent, tiling, frames);
            return;
        }
        if (latent.dim() != 5 || latent.size(1) != config.zDim() || latent.size(2) < 1)
            throw new IllegalArgumentException("VAE decode expects latents [B, " + config.zDim() + ", F, h, w] with F >= 1, got "
                    + shape(latent));
        try (PointerScope call = new PointerScope(); FeatureCache cache = new FeatureCache()) {
            Tensor z = latent.to(device, ScalarType.Float).div(invStd).add(mean);         // z: [B, z, F, h, w]
            Tensor x = conv2.forward(z.to(dtype), (Tensor) null);                    // x: [B, z, F, h, w]
            long iter = x.size(2);
            for (long i = 0; i < iter; i++) {
                try (PointerScope chunk = new PointerScope()) {
                    Tensor out = decoder.forward(x.narrow(2, i, 1), cache);           // out: [B, 3, 1|4, 8h, 8w]
                    frames.accept(clamp(out.to(ScalarType.Float)));
                }
            }
        }
    }

    private void decodeTiled(Tensor latent, DecodeTiling tiling, Consumer<Tensor> frames) {
        if (latent.size(1) != config.zDim() || latent.size(2) < 1)
            throw new IllegalArgumentException("VAE decode expects latents [B, " + config.zDim() + ", F, h, w] with F >= 1, got "
                    + shape(latent));
        int scale = config.spatialStride();
        long h = latent.size(3), w = latent.size(4);
        List<Long> ys = tiling.starts(h), xs = tiling.starts(w);
        long th = Math.min(tiling.tile(), h), tw = Math.min(tiling.tile(), w);
        List<FeatureCache> caches = new ArrayList<>();
        try (PointerScope call = new PointerScope()) {
            Tensor z = latent.to(device, ScalarType.Float).div(invStd).add(mean);         // z: [B, z, F, h, w]
            Tensor x = conv2.forward(z.to(dtype), (Tensor) null);                    // x: [B, z, F, h, w]
            List<Tensor> weights = new ArrayList<>();                                 // per tile: [1, 1, 1, 8th, 8tw]
            Tensor weightSum = torch.zeros(new long[]{1, 1, 1, h * scale, w * scale},
                    new TensorOptions(ScalarType.Float).device(new DeviceOptional(device)));
            for (int j = 0; j < ys.size(); j++) {
                Tensor wy = vector(tiling.axisWeights(ys, j, h, scale), device).view(-1, 1);   // wy: [8th, 1]
                for (int i = 0; i < xs.size(); i++) {
                    Tensor wx = vector(tiling.axisWeights(xs, i, w, scale), device).view(1, -1); // wx: [1, 8tw]
                    Tensor wt = wy.mul(wx).view(1, 1, 1, th * scale, tw * scale);
                    weights.add(wt);
                    weightSum.narrow(3, ys.get(j) * scale, th * scale).narrow(4, xs.get(i) * scale, tw * scale).add_(wt);
                    caches.add(new FeatureCache());
                }
            }
            for (long f = 0; f < x.size(2); f++) {
                try (PointerScope chunk = new PointerScope()) {
                    Tensor acc = null;                                                // acc: [B, 3, 1|4, 8h, 8w]
                    for (int j = 0; j < ys.size(); j++)
                        for (int i = 0; i < xs.size(); i++) {
                            int t = j * xs.size() + i;
                            try (PointerScope tile = new PointerScope()) {
                                Tensor xt = x.narrow(2, f, 1).narrow(3, ys.get(j), th).narrow(4, xs.get(i), tw).contiguous(); // [B, z, 1, th, tw]
                                Tensor out = clamp(decoder.forward(xt, caches.get(t)).to(ScalarType.Float));                   // [B, 3, 1|4, 8th, 8tw]
                                if (acc == null) {
                                    acc = torch.zeros(new long[]{out.size(0), 3, out.size(2), h * scale, w * scale},
                                            new TensorOptions(ScalarType.Float).device(new DeviceOptional(device)));
                                    chunk.attach(acc);
                                }
                                acc.narrow(3, ys.get(j) * scale, th * scale).narrow(4, xs.get(i) * scale, tw * scale).add_(out.mul(weights.get(t)));
                            }
                        }
                    frames.accept(acc.div(weightSum));                              // a blend of values in [-1, 1]
                }
            }
        } finally {
            caches.forEach(FeatureCache::close);
        }
    }

    private static Tensor vector(float[] values, Device device) {
        return torch.from_blob(new FloatPointer(values), values.length).clone().to(device, ScalarType.Float);
    }

    /**
     * Video [1, 3, T, H, W] in [-1, 1] → frames [T, H, W, 3] uint8, each value
     * round((x + 1) · 127.5) clamped to 0..255. The result belongs to the caller's pointer scope.
     */
    public static Tensor toUint8Frames(Tensor video) {
        if (video.dim() != 5 || video.size(0) != 1 || video.size(1) != 3)
            throw new IllegalArgumentException("toUint8Frames expects video [1, 3, T, H, W], got " + shape(video));
        PointerScope outer = PointerScope.getInnerScope();
        Tensor result;
        try (PointerScope call = new PointerScope()) {
            Tensor x = video.select(0, 0).to(ScalarType.Float);                      // x: [3, T, H, W]
            Tensor v = x.add(new Scalar(1.0)).mul(new Scalar(127.5)).round();
            v = v.clamp(new ScalarOptional(new Scalar(0.0)), new ScalarOptional(new Scalar(255.0)));
            result = v.permute(1, 2, 3, 0).contiguous().to(ScalarType.Byte);      // result: [T, H, W, 3] uint8
            keep(result, outer);
        }
        return result;
    }

    private static Tensor clamp(Tensor x) {
        return x.clamp(new ScalarOptional(new Scalar(-1.0)), new ScalarOptional(new Scalar(1.0)));
    }

    /** Moves t (made inside a scope about to close) into outer, or keeps it alive past that scope when there is none. */
    private static void keep(Tensor t, PointerScope outer) {
        if (outer != null) outer.attach(t);
        else t.retainReference();
    }

    private static String shape(Tensor t) {
        return Arrays.toString(t.sizes().vec().get());
    }

    /** Frees the weights. */
    @Override
    public void close() { scope.close(); }
}
