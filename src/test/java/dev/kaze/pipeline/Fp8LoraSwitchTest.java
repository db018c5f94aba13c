package dev.kaze.pipeline;

import dev.kaze.pipeline.dit.DitConfig;
import dev.kaze.pipeline.dit.WanDit;
import dev.kaze.pipeline.guidance.Guidance;
import dev.kaze.tensor.Linear;
import dev.kaze.tensor.Ops;
import dev.kaze.tensor.SafetensorsWriter;
import dev.kaze.tensor.WeightStorage;
import dev.kaze.training.LoraNetwork;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * LoRA stacks merged in place into a DiT whose block Linears are kept as float8: the merged weight
 * is requantised into the Linear's own values and scales, switching back restores the base's
 * float8 bytes exactly, and the DiT is never rebuilt.
 */
class Fp8LoraSwitchTest {
    @TempDir static Path loraDir;
    static final Device CPU = new Device(torch.DeviceType.CPU);
    static final WeightStorage E4M3 = WeightStorage.perTensor(WeightStorage.Format.FP8_E4M3);
    static final List<String> LINEARS = List.of("self_attn.q", "self_attn.k", "self_attn.v", "self_attn.o",
            "cross_attn.q", "cross_attn.k", "cross_attn.v", "cross_attn.o", "ffn.0", "ffn.2");

    @BeforeAll static void writeLoras() {
        PreviewLoras.write(loraDir);
    }




    static List<String> blockWeightKeys() {
        List<String> keys = new ArrayList<>();
        for (int i = 0; i < PreviewModel.DIT.numLayers(); i++) for (String l : LINEARS) keys.add("blocks." + i + "." + l + ".weight");
        return keys;
    }

    /** Every block Linear of a and b holds the same float8 bytes and the same scales. */
    static void assertSameFloat8(WanDit a, WanDit b) {
        // temporaries in the caller's PointerScope (tests run in one: other tests count live pointers)
        for (String k : blockWeightKeys()) {
            Linear la = a.blockLinear(k), lb = b.blockLinear(k);
            assertThat(la.isFloat8()).as(k + " kept as float8").isTrue();
            assertThat(Ops.same(la.quantized().scalar_type(), lb.quantized().scalar_type())).as(k + " format").isTrue();
            // compare the raw bytes: float8 equality would treat +0/-0 alike
            assertThat(torch.equal(la.quantized().view(ScalarType.Byte), lb.quantized().view(ScalarType.Byte))).as("bit-exact values " + k).isTrue();
            assertThat(torch.equal(la.scale(), lb.scale())).as("bit-exact scale " + k).isTrue();
        }
    }

    @Test
    void loraThenNoneRestoresTheBaseFloat8Exactly() {
        try (PointerScope scope = new PointerScope(); WanModel model = WanModel.preview(loraDir, CPU, ModelOptions.of(E4M3)); WanPipeline p = new WanPipeline(model);
             WanModel fresh = WanModel.preview(loraDir, CPU, ModelOptions.of(E4M3)); WanPipeline freshP = new WanPipeline(fresh)) {
            WanDit resident = model.dit(List.of());
            byte[] withA = PreviewLoras.frames(p, PreviewLoras.stack("styleA", 1.0));
            assertThat(model.dit(PreviewLoras.stack("styleA", 1.0))).as("merged in place, not rebuilt").isSameAs(resident);
            Tensor qA = resident.blockLinear("blocks.0.self_attn.q.weight").quantized().clone();
            byte[] none = PreviewLoras.frames(p, List.of());
            assertThat(model.dit(List.of())).as("restored in place, not rebuilt").isSameAs(resident);
            byte[] freshNone = PreviewLoras.frames(freshP, List.of());
            assertThat(withA).as("the LoRA changes the frames").isNotEqualTo(freshNone);
            assertThat(torch.equal(qA.view(ScalarType.Byte), fresh.dit(List.of()).blockLinear("blocks.0.self_attn.q.weight").quantized().view(ScalarType.Byte)))
                    .as("the LoRA changed the float8 values").isFalse();
            assertThat(none).isEqualTo(freshNone);
            assertSameFloat8(model.dit(List.of()), fresh.dit(List.of()));
        }
    }

    @Test
    void aThenBThenAIsA() {
        try (PointerScope scope = new PointerScope(); WanModel model = WanModel.preview(loraDir, CPU, ModelOptions.of(E4M3)); WanPipeline p = new WanPipeline(model);
             WanModel other = WanModel.preview(loraDir, CPU, ModelOptions.of(E4M3))) {
            WanDit resident = model.dit(List.of());
            byte[] a1 = PreviewLoras.frames(p, PreviewLoras.stack("styleA", 0.8));
            byte[] b = PreviewLoras.frames(p, PreviewLoras.stack("styleB", 1.0));
            byte[] a2 = PreviewLoras.frames(p, PreviewLoras.stack("styleA", 0.8));
            assertThat(b).isNotEqualTo(a1);
            assertThat(a2).isEqualTo(a1);
            assertThat(model.dit(PreviewLoras.stack("styleA", 0.8))).isSameAs(resident);
            // the same stack merged straight from the base on another model: same bytes
            assertSameFloat8(resident, other.dit(PreviewLoras.stack("styleA", 0.8)));
        }
    }

    @Test
    void blockwiseScalesAreRequantisedAndRestored() {
        WeightStorage e5m2Blocks = WeightStorage.blockwise(WeightStorage.Format.FP8_E5M2, 8);
        try (PointerScope scope = new PointerScope(); WanModel model = WanModel.preview(loraDir, CPU, ModelOptions.of(e5m2Blocks)); WanModel fresh = WanModel.preview(loraDir, CPU, ModelOptions.of(e5m2Blocks))) {
            WanDit resident = model.dit(List.of());
            Linear ffn0 = resident.blockLinear("blocks.0.ffn.0.weight");
            assertThat(ffn0.scale().dim()).as("block-wise scale [out, in/8, 1]").isEqualTo(3);
            Tensor scaleBase = ffn0.scale().clone();
            assertThat(model.dit(PreviewLoras.stack("styleA", 1.0, "styleB", 0.5))).isSameAs(resident);
            assertThat(torch.equal(ffn0.scale(), scaleBase)).as("the LoRA changed the block scales").isFalse();
            assertThat(model.dit(List.of())).isSameAs(resident);
            assertSameFloat8(resident, fresh.dit(List.of()));
        }
    }
}
