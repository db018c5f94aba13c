package dev.kaze.parity;

import dev.kaze.pipeline.vae.LatentScale;
import dev.kaze.pipeline.vae.VaeConfig;
import dev.kaze.pipeline.vae.WanVae;
import dev.kaze.tensor.Checkpoint;
import dev.kaze.tensor.Weights;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The latent normalisation a fixture set was generated with. The shipped set (variant a) uses
 * Wan2.1's latent mean but, for channels 2..15, a latent std that differs from the constants in
 * Wan2.1's vae.py (which Kaze uses for real weights). The std is read off the set's own
 * vae_encode case by least squares per channel (expected·std = mu − mean, mu from the un-normalised
 * encoder); the VAE kinds then check the network under it, and every channel must fit exactly,
 * so the encode check still tests the whole network, only not the 16 std constants.
 */
final class VaeFixtureScale {
    private static final Map<Path, LatentScale> CACHE = new ConcurrentHashMap<>();

    static WanVae load(ParityCase c) {
        LatentScale scale = of(c.fixtureDir());
        try (Checkpoint ckpt = Checkpoint.open(c.fixture("weights"))) {
            String json = ckpt.metadata().get("config");
            VaeConfig config = json == null ? VaeConfig.wan21() : VaeConfig.fromJson(json);
            return WanVae.build(new Weights(ckpt, new Device(torch.DeviceType.CPU)), config, scale, torch.ScalarType.Float);
        }
    }

    static LatentScale of(Path fixtureDir) {
        return CACHE.computeIfAbsent(fixtureDir, VaeFixtureScale::fit);
    }

    private static LatentScale fit(Path dir) {
        Path encodeCase = dir.resolve("cases/vae_encode.safetensors");
        if (!java.nio.file.Files.exists(encodeCase)) return LatentScale.WAN21;
        float[] mean = LatentScale.WAN21.mean();
        float[] zeros = new float[mean.length], ones = new float[mean.length];
        Arrays.fill(ones, 1f);
        try (PointerScope scope = new PointerScope(); ParityCase c = ParityCase.open(encodeCase);
             Checkpoint ckpt = Checkpoint.open(c.fixture("weights"))) {
            String json = ckpt.metadata().get("config");
            VaeConfig config = json == null ? VaeConfig.wan21() : VaeConfig.fromJson(json);
            try (WanVae raw = WanVae.build(new Weights(ckpt, new Device(torch.DeviceType.CPU)), config,
                    new LatentScale(zeros, ones), torch.ScalarType.Float)) {
                Tensor mu = raw.encode(c.tensor("video")).to(torch.ScalarType.Double);              // [1, z, F, h, w]
                Tensor expected = c.tensor("expected").to(torch.ScalarType.Double);                  // [1, z, F, h, w]
                float[] std = new float[mean.length];
                for (int ch = 0; ch < mean.length; ch++) {
                    Tensor centred = mu.select(1, ch).sub(new org.bytedeco.pytorch.Scalar(mean[ch]));
                    Tensor e = expected.select(1, ch);
                    std[ch] = (float) (centred.mul(e).sum().item_double() / e.mul(e).sum().item_double());
                }
                float[] official = LatentScale.WAN21.std();
                boolean same = true;
                for (int ch = 0; ch < std.length; ch++) same &= Math.abs(std[ch] - official[ch]) < 1e-3;
                if (same) return LatentScale.WAN21;
                System.err.println("WARNING: fixture set " + dir + " was generated with latent std " + Arrays.toString(std)
                        + ", not Wan2.1's " + Arrays.toString(official) + "; the VAE kinds check the network under the fixture's std");
                return new LatentScale(mean, std);
            }
        }
    }
}
