package dev.kaze.training;

import dev.kaze.pipeline.dit.DitConfig;
import dev.kaze.pipeline.lora.LoraFile;
import dev.kaze.pipeline.lora.LoraPatch;
import dev.kaze.tensor.Checkpoint;
import dev.kaze.tensor.DType;
import dev.kaze.tensor.SafetensorsFile;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** A saved LoraNetwork reads back through the inference LoRA reader against the fixture DiT. */
class LoraNetworkSaveTest {
    private static Path fixtures() {
        return Path.of(System.getProperty("kaze.parity.dir", "../shared/fixtures/wan-parity")).toAbsolutePath().normalize();
    }

    @Test
    void savedNetworkMapsOntoTheDitWithItsScaleAndBf16Values(@TempDir Path dir) {
        Device cpu = new Device(torch.DeviceType.CPU);
        Path file = dir.resolve("net.safetensors");
        try (PointerScope scope = new PointerScope(); Checkpoint ckpt = Checkpoint.open(fixtures().resolve("dit.safetensors"))) {
            DitConfig cfg = DitConfig.read(fixtures().resolve("dit_config.json"));
            try (LoraNetwork net = LoraNetwork.create(cfg, 4, 3.0, 7, cpu)) {
                try (NoGradGuard g = new NoGradGuard()) {
                    for (LoraNetwork.Module m : net.modules()) m.up().uniform_(-0.5, 0.5, new GeneratorOptional());
                }
                net.save(file);

                try (SafetensorsFile raw = SafetensorsFile.open(file)) {
                    assertThat(raw.entries()).hasSize(3 * net.modules().size());
                    raw.entries().values().forEach(e -> assertThat(e.spec().dtype()).isEqualTo(DType.of(ScalarType.BFloat16)));
                    assertThat(raw.entry("lora_unet_blocks_0_ffn_2.alpha").spec().shape()).isEmpty();
                    assertThat(raw.metadata()).containsEntry("ss_network_module", "networks.lora_wan")
                            .containsEntry("ss_network_dim", "4").containsEntry("ss_network_alpha", "3.0")
                            .containsEntry("ss_base_model_version", "wan").containsEntry("modelspec.architecture", "wan2.1/lora");
                }

                try (LoraFile lora = LoraFile.read(file, ckpt)) {
                    assertThat(lora.targets()).hasSize(net.modules().size());
                    for (LoraNetwork.Module m : net.modules()) {
                        String target = m.path() + ".weight";
                        List<LoraPatch> patches = lora.patches(target);
                        assertThat(patches).as(target).hasSize(1);
                        LoraPatch.LowRank lr = (LoraPatch.LowRank) patches.getFirst();
                        assertThat(lr.rank()).isEqualTo(4);
                        assertThat(lr.scale()).isEqualTo(0.75);
                        assertThat(lr.up()).isEqualTo("lora_unet_" + m.path().replace('.', '_') + ".lora_up.weight");
                        try (PointerScope inner = new PointerScope()) {
                            Tensor up = m.up().detach().to(ScalarType.BFloat16).to(ScalarType.Float);
                            Tensor down = m.down().detach().to(ScalarType.BFloat16).to(ScalarType.Float);
                            Tensor expected = up.matmul(down).mul(new org.bytedeco.pytorch.Scalar(0.75));
                            Tensor actual = lora.delta(target, cpu);
                            double err = actual.sub(expected).abs().max().item_double();
                            assertThat(err).as(target).isLessThan(1e-6);
                            assertThat(expected.abs().max().item_double()).isGreaterThan(0.0);
                        }
                    }
                }
            }
        }
    }
}
