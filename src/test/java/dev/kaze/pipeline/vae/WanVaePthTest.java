package dev.kaze.pipeline.vae;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** The VAE built from the official-format vae.pth decodes exactly as the one built from vae.safetensors. */
class WanVaePthTest {
    static final Path DIR = Path.of(System.getProperty("kaze.parity.dir", "../shared/fixtures/wan-parity"));

    @Test
    void pthAndSafetensorsGiveTheSameVae() {
        Device cpu = new Device(torch.DeviceType.CPU);
        try (PointerScope scope = new PointerScope();
             WanVae fromPth = WanVae.load(DIR.resolve("vae.pth"), cpu, torch.ScalarType.Float);
             WanVae fromSafetensors = WanVae.load(DIR.resolve("vae.safetensors"), cpu, torch.ScalarType.Float)) {
            Tensor latent = torch.randn(1, 16, 2, 4, 6);
            assertThat(torch.equal(fromPth.decode(latent), fromSafetensors.decode(latent))).isTrue();
            Tensor video = torch.rand(1, 3, 5, 32, 48).mul(new org.bytedeco.pytorch.Scalar(2)).sub(new org.bytedeco.pytorch.Scalar(1));
            assertThat(torch.equal(fromPth.encode(video), fromSafetensors.encode(video))).isTrue();
            assertThat(fromPth.config()).isEqualTo(fromSafetensors.config());
        }
    }
}
