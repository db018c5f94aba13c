package dev.kaze.config;

import dev.kaze.pipeline.GenerateRequest;
import dev.kaze.pipeline.GenerationListener;
import dev.kaze.pipeline.ModelOptions;
import dev.kaze.pipeline.WanModel;
import dev.kaze.pipeline.WanPipeline;
import dev.kaze.pipeline.guidance.Guidance;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.MapConfigurationPropertySource;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** kaze.dit.blocks-to-swap, kaze.device-memory-budget and kaze.text-encoder.placement bind and reach the model. */
class MemoryPropertiesTest {
    private static KazeProperties bind(Map<String, String> props) {
        return new Binder(new MapConfigurationPropertySource(props)).bindOrCreate("kaze", KazeProperties.class);
    }

    @Test
    void theSettingsBindIntoModelOptions() {
        ModelOptions o = bind(Map.of("kaze.dit.blocks-to-swap", "auto", "kaze.device-memory-budget", "20GB",
                "kaze.text-encoder.placement", "cpu", "kaze.dit.storage", "fp8-e4m3")).modelOptions();
        assertThat(o.blocksToSwap()).isEqualTo(ModelOptions.BlocksToSwap.AUTO);
        assertThat(o.memoryBudgetBytes()).isEqualTo(20_000_000_000L);
        assertThat(o.textEncoderOnHost()).isTrue();
        assertThat(o.storage().isFloat8()).isTrue();
        ModelOptions defaults = bind(Map.of()).modelOptions();
        assertThat(defaults.blocksToSwap()).isEqualTo(ModelOptions.BlocksToSwap.NONE);
        assertThat(defaults.memoryBudgetBytes()).isEqualTo(24L << 30);
        assertThat(defaults.textEncoderOnHost()).isFalse();
        assertThat(bind(Map.of("kaze.dit.blocks-to-swap", "10")).modelOptions().blocksToSwap()).isEqualTo(ModelOptions.BlocksToSwap.of(10));
    }

    @Test
    void budgetsParseInBinaryAndDecimalUnits() {
        assertThat(KazeProperties.memoryBudgetBytes("24GiB")).isEqualTo(24L << 30);
        assertThat(KazeProperties.memoryBudgetBytes("24 GB")).isEqualTo(24_000_000_000L);
        assertThat(KazeProperties.memoryBudgetBytes("1.5MiB")).isEqualTo(3L << 19);
        assertThat(KazeProperties.memoryBudgetBytes("4096")).isEqualTo(4096);
        assertThatThrownBy(() -> KazeProperties.memoryBudgetBytes("lots")).hasMessageContaining("kaze.device-memory-budget");
        assertThatThrownBy(() -> new KazeProperties.TextEncoder("gpu")).hasMessageContaining("use cpu or device");
        assertThatThrownBy(() -> new KazeProperties.Dit("compute", 0, "x")).hasMessageContaining("kaze.dit.blocks-to-swap");
    }

    @Test
    void textEncoderOnTheHostWithACpuDeviceGivesTheSameFrames() {
        Device cpu = new Device(torch.DeviceType.CPU);
        GenerateRequest req = new GenerateRequest("a lighthouse at dusk", null, 32, 32, 5, 16, 2, 5.0, 5L, new Guidance.None(), List.of());
        ModelOptions onHost = new ModelOptions(dev.kaze.tensor.WeightStorage.COMPUTE, ModelOptions.BlocksToSwap.NONE, ModelOptions.DEFAULT_BUDGET, true);
        try (WanModel a = WanModel.preview(null, cpu, onHost); WanPipeline pa = new WanPipeline(a);
             WanModel b = WanModel.preview(null, cpu); WanPipeline pb = new WanPipeline(b)) {
            assertThat(a.textEncoderDevice().type().value).isEqualTo(torch.DeviceType.CPU.value);
            assertThat(a.options().textEncoderOnHost()).isTrue();
            assertThat(pa.generate(req, GenerationListener.NONE, () -> false).rgb())
                    .isEqualTo(pb.generate(req, GenerationListener.NONE, () -> false).rgb());
        }
    }
}
