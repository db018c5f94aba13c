package dev.kaze.parity;

import dev.kaze.pipeline.dit.DitConfig;
import dev.kaze.pipeline.dit.DitOptions;
import dev.kaze.pipeline.dit.WanDit;
import dev.kaze.tensor.Checkpoint;
import dev.kaze.tensor.SafetensorsWriter;
import dev.kaze.tensor.WeightStorage;
import dev.kaze.tensor.WeightStorage.Format;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The DiT parity cases (dit_forward, dit_nag_forward, dit_lora_forward, sample) with the block
 * Linear weights stored as float8 and upcast per use, against the same expected outputs as
 * {@link ParityTest} but within a looser tolerance that covers the quantisation error.
 */
class Fp8ParityTest {
    private static final Set<String> KINDS = Set.of("dit_forward", "dit_nag_forward", "dit_lora_forward", "sample");
    /** Linears of one WanAttentionBlock: self_attn q, k, v, o; cross_attn q, k, v, o; ffn.0, ffn.2. */
    private static final int LINEARS_PER_BLOCK = 10;

    /**
     * A storage mode and the bound its outputs must meet, derived from the float8 format and the
     * network's depth, not measured on any fixture set:
     * <ul>
     *   <li>a value rounded to a format with m mantissa bits has a relative error within ±u,
     *       u = 2^-(m+1) (e4m3: m = 3, u = 1/16; e5m2: m = 2, u = 1/8); spread evenly over that
     *       interval its RMS is u/√3, and so is the relative RMS error it adds to a Linear's output;</li>
     *   <li>independent errors of the D rounded Linears an input passes through in sequence add in
     *       quadrature; per WanAttentionBlock D = 6 (self-attention q/k/v then o, cross-attention q
     *       then o, ffn.0 then ffn.2), so D = 6 · num_layers of the case's DiT;</li>
     *   <li>{@code _scaled_mm} rounds the activations to e4m3 too: two rounded operands per Linear.</li>
     * </ul>
     * Per case the whole output must keep a relative RMS error ‖actual − expected‖₂ / ‖expected‖₂
     * ≤ b = (u/√3) · √(D · operands), and a cosine similarity with the float32 output ≥ 1 − b²/2.
     */
    record Mode(String name, WeightStorage storage, int mantissaBits, int roundedOperands) {
        double unitRoundoff() { return Math.pow(2, -(mantissaBits + 1)); }

        double relativeRmsBound(int numLayers) {
            return unitRoundoff() / Math.sqrt(3) * Math.sqrt(ROUNDED_LINEARS_IN_SEQUENCE_PER_BLOCK * numLayers * roundedOperands);
        }
    }

    /** self-attention q/k/v → o, cross-attention q → o, ffn.0 → ffn.2. */
    static final int ROUNDED_LINEARS_IN_SEQUENCE_PER_BLOCK = 6;
    static final int E4M3_MANTISSA = 3, E5M2_MANTISSA = 2;

    static final List<Mode> MODES = List.of(
            new Mode("e4m3-per-tensor", WeightStorage.perTensor(Format.FP8_E4M3), E4M3_MANTISSA, 1),
            new Mode("e4m3-blockwise16", WeightStorage.blockwise(Format.FP8_E4M3, 16), E4M3_MANTISSA, 1),
            new Mode("e5m2-per-tensor", WeightStorage.perTensor(Format.FP8_E5M2), E5M2_MANTISSA, 1),
            new Mode("e4m3-per-tensor-scaled-mm", WeightStorage.perTensor(Format.FP8_E4M3).withMatmul(WeightStorage.Matmul.SCALED_MM), E4M3_MANTISSA, 2));

    /** Asserts the format's bounds (relative RMS error and cosine similarity) of actual against the float32 expectation. */
    static void assertWithinFormat(String what, Tensor actual, Tensor expected, Mode mode, DitConfig config) {
        Tensor a = actual.to(torch.ScalarType.Double).flatten(), e = expected.to(torch.ScalarType.Double).flatten();
        double relRms = a.sub(e).norm().item_double() / e.norm().item_double();
        double cosine = a.dot(e).item_double() / (a.norm().item_double() * e.norm().item_double());
        double bound = mode.relativeRmsBound(config.numLayers()), cosineBound = 1 - bound * bound / 2;
        System.out.printf("FP8 %s: relative RMS error %.3e (bound %.3e), cosine %.6f (bound %.6f)%n",
                what, relRms, bound, cosine, cosineBound);
        assertThat(relRms).as(what + " relative RMS error").isLessThanOrEqualTo(bound);
        assertThat(cosine).as(what + " cosine similarity").isGreaterThanOrEqualTo(cosineBound);
    }

    /**
     * dit_forward with e4m3 per-tensor weights: _scaled_mm (CPU kernel) differs from upcasting
     * only by the activations' e4m3 rounding, one rounded operand more: against the upcast output
     * it stays within the single-operand e4m3 bound, and it does differ (the kernel really ran).
     */
    @Test
    void scaledMmAndUpcastAgreeOnDitForward() {
        Path caseFile = ParityTest.parityDir().resolve("cases/dit_forward.safetensors");
        try (PointerScope scope = new PointerScope(); ParityCase c = ParityCase.open(caseFile)) {
            Tensor[] out = new Tensor[2];
            int i = 0;
            DitConfig config;
            try (Checkpoint ckpt = Checkpoint.open(c.fixture("weights"))) {
                config = DitForwardKind.config(c.fixtureDir(), ckpt);
            }
            for (WeightStorage.Matmul mm : WeightStorage.Matmul.values())
                try (Checkpoint ckpt = Checkpoint.open(c.fixture("weights"));
                     WanDit dit = WanDit.load(config, ckpt, new Device(torch.DeviceType.CPU),
                             new DitOptions(torch.ScalarType.Float, WeightStorage.perTensor(Format.FP8_E4M3).withMatmul(mm), 0))) {
                    out[i++] = dit.forward(c.tensor("x").unsqueeze(0), c.tensor("t"), dit.embedContext(c.tensor("context")), null, null);
                }
            assertThat(out[0].sub(out[1]).abs().max().item_double()).as("scaled-mm differs from upcast").isGreaterThan(0);
            assertWithinFormat("dit_forward scaled-mm against upcast", out[1], out[0], MODES.get(0), config);
        }
    }

    @TestFactory
    Stream<DynamicTest> cases() throws IOException {
        List<DynamicTest> tests = new ArrayList<>();
        for (Path p : ParityTest.casesOf(KINDS))
            for (Mode m : MODES)
                tests.add(DynamicTest.dynamicTest(p.getFileName() + " [" + m.name() + "]", () -> run(p, m)));
        assertTrue(tests.size() >= 4 * MODES.size(), "expected the four DiT kinds among the cases, found " + tests.size() / MODES.size());
        return tests.stream();
    }

    /**
     * The fixture DiT repacked as a ComfyUI-style scaled float8 checkpoint (block Linear weights
     * e4m3 with a scalar scale_weight = max|W|/448, plus the scaled_fp8 marker) passes dit_forward
     * within the e4m3 bound, read as stored (float8 storage) or upcast once (compute storage).
     */
    @Test
    void aScaledFloat8RepackOfTheFixturePassesDitForward(@TempDir Path dir) {
        Path caseFile = ParityTest.parityDir().resolve("cases/dit_forward.safetensors");
        try (PointerScope scope = new PointerScope(); ParityCase c = ParityCase.open(caseFile)) {
            Path repack = dir.resolve("dit_fp8_scaled.safetensors");
            DitConfig config;
            try (Checkpoint ckpt = Checkpoint.open(c.fixture("weights"))) {
                config = DitForwardKind.config(c.fixtureDir(), ckpt);
                Map<String, Tensor> out = new LinkedHashMap<>();
                int scaled = 0;
                for (String key : ckpt.keys()) {
                    Tensor t = ckpt.load(key);
                    if (key.matches("blocks\\.\\d+\\.((self|cross)_attn\\.[qkvo]|ffn\\.[02])\\.weight")) {
                        Tensor scale = t.to(torch.ScalarType.Float).abs().max().div(new Scalar(448.0));   // []
                        out.put(key, t.to(torch.ScalarType.Float).div(scale).to(torch.ScalarType.Float8_e4m3fn));
                        out.put(key.replace(".weight", ".scale_weight"), scale);
                        scaled++;
                    } else {
                        out.put(key, t);
                    }
                }
                assertThat(scaled).isEqualTo(config.numLayers() * LINEARS_PER_BLOCK);
                out.put("scaled_fp8", torch.empty(new long[]{0}, new TensorOptions(torch.ScalarType.Float8_e4m3fn), new MemoryFormatOptional()));
                SafetensorsWriter.write(repack, out);
            }
            for (WeightStorage storage : List.of(WeightStorage.perTensor(Format.FP8_E4M3), WeightStorage.COMPUTE))
                try (Checkpoint ckpt = Checkpoint.open(repack);
                     WanDit dit = WanDit.load(config, ckpt,
                             new Device(torch.DeviceType.CPU), new DitOptions(torch.ScalarType.Float, storage, 0))) {
                    Tensor context = dit.embedContext(c.tensor("context"));
                    Tensor actual = dit.forward(c.tensor("x").unsqueeze(0), c.tensor("t"), context, null, null).squeeze(0);
                    assertWithinFormat("dit_forward [scaled fp8 repack, " + storage.format() + " storage]", actual,
                            c.tensor("expected"), MODES.get(0), config);
                }
        }
    }

    private static void run(Path file, Mode mode) {
        try (PointerScope scope = new PointerScope(); ParityCase c = ParityCase.open(file);
             Checkpoint ckpt = Checkpoint.open(c.fixture("weights"));
             LoraForwardKind.Merged merged = LoraForwardKind.withLoras(c, ckpt);
             WanDit dit = WanDit.load(DitForwardKind.config(c.fixtureDir(), ckpt), merged.source(),
                     new Device(torch.DeviceType.CPU), new DitOptions(torch.ScalarType.Float, mode.storage(), 0))) {
            Tensor actual, expected = c.tensor("expected");
            if (c.kind().equals("sample")) {
                actual = SampleKind.sample(c, dit, (step, total, seconds) -> {}, () -> false);
            } else {
                Tensor context = dit.embedContext(c.tensor("context"));
                var nag = DitForwardKind.nag(c);
                Tensor nagContext = nag == null ? null : dit.embedContext(c.tensor("negative_context"));
                actual = dit.forward(c.tensor("x").unsqueeze(0), c.tensor("t"), context, nagContext, nag).squeeze(0);
            }
            assertWithinFormat(c.name() + " [" + mode.name() + "]", actual, expected, mode, DitForwardKind.config(c.fixtureDir(), ckpt));
        }
    }
}
