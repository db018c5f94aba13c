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
        assertThatThrownBy(() -> new KazeProperties.Dit("compute", 0, "x", "upcast")).hasMessageContaining("kaze.dit.blocks-to-swap");
    }

    @Test
    void fp8MatmulParses() {
        assertThat(new KazeProperties.Dit("fp8-e4m3", 0, "0", "scaled-mm").weightStorage().matmul())
                .isEqualTo(dev.kaze.tensor.WeightStorage.Matmul.SCALED_MM);
        assertThat(new KazeProperties.Dit("fp8-e4m3", 0, "0", null).weightStorage().matmul())
                .isEqualTo(dev.kaze.tensor.WeightStorage.Matmul.UPCAST);
        assertThatThrownBy(() -> new KazeProperties.Dit("fp8-e4m3", 0, "0", "fast")).hasMessageContaining("kaze.dit.fp8-matmul");
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

    @Test
    void aDeviceCopyOfUmT5EncodesAlikeAndIsReleased() {
        Device cpu = new Device(torch.DeviceType.CPU);
        try (org.bytedeco.javacpp.PointerScope scope = new org.bytedeco.javacpp.PointerScope(); WanModel model = WanModel.preview(null, cpu)) {
            dev.kaze.pipeline.text.T5Encoder host = model.textEncoder();
            org.bytedeco.pytorch.Tensor ids = torch.arange(new org.bytedeco.pytorch.Scalar(1), new org.bytedeco.pytorch.Scalar(9),
                    new org.bytedeco.pytorch.TensorOptions(torch.ScalarType.Long)).view(1, -1);              // [1, 8]
            org.bytedeco.pytorch.Tensor mask = torch.ones(new long[]{1, 8}, new org.bytedeco.pytorch.TensorOptions(torch.ScalarType.Long));
            org.bytedeco.pytorch.Tensor expected = host.encodeTrimmed(ids, mask);
            long before = org.bytedeco.javacpp.Pointer.totalCount();
            for (int i = 0; i < 3; i++)
                try (org.bytedeco.javacpp.PointerScope call = new org.bytedeco.javacpp.PointerScope();
                     dev.kaze.pipeline.text.T5Encoder copy = host.copyTo(cpu)) {
                    assertThat(torch.equal(copy.encodeTrimmed(ids, mask), expected)).isTrue();
                }
            assertThat(org.bytedeco.javacpp.Pointer.totalCount()).as("copies released").isLessThanOrEqualTo(before);
            assertThat(torch.equal(host.encodeTrimmed(ids, mask), expected)).as("the host copy stays usable").isTrue();
            assertThat(model.encodeText(ids, mask).equal(expected)).as("on a CPU device the host copy encodes as is").isTrue();
            assertThat(model.textEncoderCopies()).isZero();
        }
    }
}
