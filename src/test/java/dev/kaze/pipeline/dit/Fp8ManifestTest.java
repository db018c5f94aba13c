package dev.kaze.pipeline.dit;

import dev.kaze.tensor.CheckpointManifests;
import dev.kaze.tensor.DType;
import dev.kaze.tensor.ShapeManifest;
import dev.kaze.tensor.TensorSpec;
import dev.kaze.tensor.WeightStorage;
import dev.kaze.tensor.WeightStorage.Format;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/** The 14B builder with float8 block weights, quantised on load or read from a scaled float8 repack (meta tensors). */
class Fp8ManifestTest {
    private static final String NAME = "wan2.1-t2v-14B";
    private static final Pattern BLOCK_LINEAR = Pattern.compile("blocks\\.\\d+\\.(self_attn|cross_attn)\\.[qkvo]\\.weight|blocks\\.\\d+\\.ffn\\.[02]\\.weight");

    private static void build(Map<String, TensorSpec> specs, WeightStorage storage) {
        try (PointerScope scope = new PointerScope();
             WanDit dit = WanDit.load(DitConfig.WAN_14B, new ShapeManifest(NAME, specs), new Device(torch.DeviceType.CPU),
                     new DitOptions(torch.ScalarType.BFloat16, storage, 0))) {
            assertThat(dit.config().numLayers()).isEqualTo(40);
        }
    }

    @Test
    void quantisedOnLoadPerTensorAndBlockwise() {
        Map<String, TensorSpec> specs = CheckpointManifests.specs(CheckpointManifests.entry(NAME), DType.BF16);
        build(specs, WeightStorage.perTensor(Format.FP8_E4M3));
        build(specs, WeightStorage.blockwise(Format.FP8_E4M3, 64));
        build(specs, WeightStorage.perTensor(Format.FP8_E5M2));
    }

    @Test
    void aScaledFloat8RepackConsumesEveryKey() {
        Map<String, TensorSpec> bf16 = CheckpointManifests.specs(CheckpointManifests.entry(NAME), DType.BF16);
        Map<String, TensorSpec> specs = new LinkedHashMap<>();
        int scaled = 0;
        for (var e : bf16.entrySet()) {
            if (BLOCK_LINEAR.matcher(e.getKey()).matches()) {
                specs.put(e.getKey(), new TensorSpec(DType.F8_E4M3, e.getValue().shape()));
                specs.put(e.getKey().replace(".weight", ".scale_weight"), new TensorSpec(DType.F32, new long[]{}));
                scaled++;
            } else {
                specs.put(e.getKey(), e.getValue());
            }
        }
        specs.put("scaled_fp8", new TensorSpec(DType.F8_E4M3, new long[]{0}));
        assertThat(scaled).isEqualTo(40 * 10);
        build(specs, WeightStorage.perTensor(Format.FP8_E4M3));
        build(specs, WeightStorage.COMPUTE);   // upcast once to bf16
    }
}
