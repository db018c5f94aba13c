package dev.kaze.parity;

import dev.kaze.pipeline.vae.WanVae;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;

/** vae_encode: video [1,3,T,H,W] in [-1,1] → normalised latent mean [1,16,F,H/8,W/8]. */
final class VaeEncodeKind implements ParityKind {
    @Override
    public void check(ParityCase c) {
        try (WanVae vae = WanVae.load(c.fixture("weights"), new Device(torch.DeviceType.CPU), torch.ScalarType.Float)) {
            c.assertClose("vae encode", vae.encode(c.tensor("video")), c.tensor("expected"));
        }
    }
}
