package dev.kaze.parity;

import dev.kaze.pipeline.vae.WanVae;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;

/** pipeline_frames: latent [16,F,h,w] (no batch) → decode → uint8 RGB frames [T,H,W,3], within atol levels. */
final class PipelineFramesKind implements ParityKind {
    @Override
    public void check(ParityCase c) {
        try (WanVae vae = WanVae.load(c.fixture("weights"), new Device(torch.DeviceType.CPU), torch.ScalarType.Float)) {
            var video = vae.decode(c.tensor("latent").unsqueeze(0));                 // video: [1, 3, T, H, W]
            c.assertClose("decoded uint8 frames", WanVae.toUint8Frames(video), c.tensor("expected_rgb"));
        }
    }
}
