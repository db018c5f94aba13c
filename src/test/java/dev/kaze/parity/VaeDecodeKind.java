package dev.kaze.parity;

import dev.kaze.pipeline.vae.WanVae;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;

/** vae_decode: normalised latent [1,16,F,h,w] → video [1,3,1+4(F-1),8h,8w] clamped to [-1,1]. */
final class VaeDecodeKind implements ParityKind {
    @Override
    public void check(ParityCase c) {
        try (WanVae vae = WanVae.load(c.fixture("weights"), new Device(torch.DeviceType.CPU), torch.ScalarType.Float)) {
            c.assertClose("vae decode", vae.decode(c.tensor("latent")), c.tensor("expected"));
        }
    }
}
