package dev.kaze.pipeline;

import dev.kaze.pipeline.dit.WanDit;
import dev.kaze.pipeline.lora.LoraFile;
import dev.kaze.pipeline.lora.LoraStack;
import dev.kaze.tensor.Linear;
import dev.kaze.tensor.Ops;
import dev.kaze.tensor.WeightStorage;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * LoRA stacks switched in place on a DiT read from a published-style float8 checkpoint (ComfyUI /
 * Kijai {@code _fp8_e4m3fn_scaled}: block Linear weights stored as e4m3 with a {@code scale_weight}
 * beside them): no rebuild, the same bytes as a fresh load with the stack, and the published q and
 * scale back bit for bit when no LoRA is left.
 */
class PublishedFp8LoraSwitchTest {
    @TempDir static Path loraDir;
    static final Device CPU = new Device(torch.DeviceType.CPU);
    static final WeightStorage E4M3 = WeightStorage.perTensor(WeightStorage.Format.FP8_E4M3);
    static final List<GenerateRequest.LoraRef> A = PreviewLoras.stack("styleA", 1.0), B = PreviewLoras.stack("styleB", 0.7);

    /**
     * The generated DiT as a published fp8 repack: every block Linear weight as e4m3 values
     * W / s with a per-tensor scale_weight s = max|W| / 448 (shape [], float32), the scaled_fp8
     * marker, everything else as it is.
     */
    static final UnaryOperator<Map<String, Tensor>> PUBLISHED = weights -> {
        Map<String, Tensor> out = new LinkedHashMap<>();
        weights.forEach((key, t) -> {
            if (key.matches("blocks\\.\\d+\\.((self|cross)_attn\\.[qkvo]|ffn\\.[02])\\.weight")) {
                Tensor w = t.to(ScalarType.Float);
                Tensor s = w.abs().max().div(new Scalar(448.0));                                   // []
                out.put(key, w.div(s).to(ScalarType.Float8_e4m3fn));                               // [out, in] e4m3
                out.put(key.replace(".weight", ".scale_weight"), s);
            } else {
                out.put(key, t);
            }
        });
        out.put("scaled_fp8", torch.empty(new long[]{0}, new TensorOptions(ScalarType.Float8_e4m3fn), new MemoryFormatOptional()));
        return out;
    };

    @BeforeAll static void writeLoras() {
        PreviewLoras.write(loraDir);
    }

    static WanModel published(ModelOptions options) {
        return WanModel.previewRepacked(loraDir, CPU, options, PUBLISHED);
    }

    /** Copies of every block Linear's float8 values and scale. */
    static Map<String, Tensor[]> snapshot(WanDit dit) {
        Map<String, Tensor[]> out = new LinkedHashMap<>();
        for (String k : Fp8LoraSwitchTest.blockWeightKeys()) {
            Linear l = dit.blockLinear(k);
            out.put(k, new Tensor[]{l.quantized().clone(), l.scale().clone()});
        }
        return out;
    }

    static void assertBytes(WanDit dit, Map<String, Tensor[]> expected, String what) {
        expected.forEach((k, qs) -> {
            Linear l = dit.blockLinear(k);
            assertThat(torch.equal(l.quantized().view(ScalarType.Byte), qs[0].view(ScalarType.Byte))).as(what + ": values of " + k).isTrue();
            assertThat(torch.equal(l.scale().view(ScalarType.Int), qs[1].view(ScalarType.Int))).as(what + ": scale of " + k).isTrue();
        });
    }

    static void switchesInPlace(ModelOptions options) {
        try (PointerScope scope = new PointerScope(); WanModel model = published(options); WanPipeline p = new WanPipeline(model);
             WanModel freshA = published(options); WanPipeline freshAP = new WanPipeline(freshA);
             WanModel freshNone = published(options)) {
            WanDit resident = model.dit(List.of());
            assertThat(resident.blockLinear("blocks.0.ffn.0.weight").isFloat8()).as("kept as published float8").isTrue();
            assertThat(resident.blocksSwapped()).as("blocks swapped").isEqualTo(options.blocksToSwap().count());
            Map<String, Tensor[]> base = snapshot(resident);
            // the published bytes themselves, as a fresh load keeps them
            assertBytes(freshNone.dit(List.of()), base, "published");

            byte[] a1 = PreviewLoras.frames(p, A);
            assertThat(model.dit(A)).as("A merged in place").isSameAs(resident);
            Map<String, Tensor[]> afterA = snapshot(resident);
            byte[] b = PreviewLoras.frames(p, B);
            assertThat(model.dit(B)).as("B merged in place").isSameAs(resident);
            byte[] none = PreviewLoras.frames(p, List.of());
            assertThat(model.dit(List.of())).as("none restored in place").isSameAs(resident);
            assertBytes(resident, base, "after none");
            byte[] a2 = PreviewLoras.frames(p, A);
            assertThat(model.dit(A)).isSameAs(resident);
            assertThat(model.ditLoads()).as("no DiT rebuilt from the base source").isZero();

            // a model loaded fresh with A (LoraStack.apply over the published checkpoint)
            freshA.releaseDit();
            byte[] fresh = PreviewLoras.frames(freshAP, A);
            assertThat(freshA.ditLoads()).as("the fresh model loaded its DiT with A").isEqualTo(1);
            assertBytes(freshA.dit(A), afterA, "fresh load with A");
            assertBytes(resident, afterA, "A again");
            assertThat(a1).isEqualTo(fresh);
            assertThat(a2).isEqualTo(fresh);
            assertThat(b).isNotEqualTo(a1);
            assertThat(none).isNotEqualTo(a1);
            assertThat(PreviewLoras.frames(new WanPipeline(freshNone), List.of())).isEqualTo(none);
        }
    }

    @Test
    void switchingStacksOnAPublishedFloat8CheckpointIsInPlace() {
        switchesInPlace(ModelOptions.of(E4M3));
    }

    @Test
    void swappedBlocksAreMergedInTheirHostCopies() {
        switchesInPlace(ModelOptions.of(E4M3).withBlocksToSwap(ModelOptions.BlocksToSwap.of(1)));
    }

    /** The merged float8 weight is q · scale + ΔW (within e4m3 rounding), not ΔW added to the unscaled q. */
    @Test
    void theMergeIsInTheScaledWeight() {
        String key = "blocks.0.self_attn.q.weight";
        try (PointerScope scope = new PointerScope(); WanModel model = published(ModelOptions.of(E4M3))) {
            WanDit dit = model.dit(List.of());
            Linear l = dit.blockLinear(key);
            Tensor base = Linear.Float8.dequantize(l.quantized(), l.scale(), ScalarType.Float);         // [out, in]
            Tensor delta;
            try (LoraFile f = LoraFile.read(loraDir.resolve("styleA.safetensors"), WanModel.previewDitShapes())) {
                delta = LoraStack.of(new LoraStack.Layer(f, 1.0)).delta(key, CPU);                       // [out, in] float32
            }
            model.dit(A);
            Tensor merged = Linear.Float8.dequantize(l.quantized(), l.scale(), ScalarType.Float);       // [out, in]
            Tensor expected = base.add(delta);
            double err = merged.sub(expected).abs().max().item_double();
            double amax = expected.abs().max().item_double();
            assertThat(delta.abs().max().item_double()).as("the LoRA changes the weight visibly").isGreaterThan(amax / 16);
            assertThat(err).as("e4m3 rounding of the merged weight").isLessThanOrEqualTo(amax / 16);
            assertThat(Ops.shape(l.scale())).as("the published scale layout").isEqualTo(new long[]{});
        }
    }
}
