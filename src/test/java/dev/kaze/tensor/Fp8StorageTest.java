package dev.kaze.tensor;

import dev.kaze.tensor.WeightStorage.Format;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Generator;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** float8 quantisation of Linear weights and reading float8 checkpoints (ComfyUI "scaled" repacks). */
class Fp8StorageTest {
    @TempDir Path dir;
    private PointerScope scope;

    @BeforeEach void openScope() { scope = new PointerScope(); }

    @AfterEach void closeScope() { scope.close(); }

    private static final Device CPU = new Device(torch.DeviceType.CPU);

    /** A float32 tensor [rows, cols] of seeded Gaussian values times gain. */
    static Tensor gaussian(long seed, int rows, int cols, double gain) {
        Random r = new Random(seed);
        float[] v = new float[rows * cols];
        for (int i = 0; i < v.length; i++) v[i] = (float) (r.nextGaussian() * gain);
        return fromFloats(v, rows, cols);
    }

    static Tensor fromFloats(float[] v, long... shape) {
        Tensor t = torch.empty(shape, new TensorOptions(ScalarType.Float), new MemoryFormatOptional());
        t.data_ptr_float().put(v);
        return t;
    }

    static float[] floats(Tensor t) {
        Tensor c = t.to(ScalarType.Float).contiguous();
        float[] out = new float[(int) c.numel()];
        c.data_ptr_float().get(out);
        return out;
    }

    /** Mantissa bits of a float8 format. */
    static int mantissa(Format f) { return f == Format.FP8_E4M3 ? 3 : 2; }

    /** Smallest normal value of a float8 format. */
    static double minNormal(Format f) { return f == Format.FP8_E4M3 ? Math.pow(2, -6) : Math.pow(2, -14); }

    @ParameterizedTest
    @EnumSource(value = Format.class, names = {"FP8_E4M3", "FP8_E5M2"})
    void perTensorRoundTripIsWithinHalfAnUlp(Format format) {
        Tensor w = gaussian(1, 32, 64, 0.02);                                          // [32, 64]
        Linear.Float8.Quantized q = Linear.Float8.quantize(w, format, new WeightStorage.Scaling.PerTensor());
        assertThat(Ops.same(q.values().scalar_type(), format.scalarType())).isTrue();
        assertThat(q.scale().numel()).isEqualTo(1);
        float[] wv = floats(w);
        double maxAbs = 0;
        for (float x : wv) maxAbs = Math.max(maxAbs, Math.abs(x));
        double scale = q.scale().item_double();
        assertThat(scale).isCloseTo(maxAbs / format.max(), org.assertj.core.data.Percentage.withPercentage(1e-4));
        float[] qv = floats(q.values());
        double qMax = 0;
        for (float x : qv) qMax = Math.max(qMax, Math.abs(x));
        assertThat(qMax).as("the largest weight maps to the largest float8 value").isEqualTo(format.max());
        float[] back = floats(Linear.Float8.dequantize(q.values(), q.scale(), ScalarType.Float));
        // Rounding to nearest: relative error ≤ 2^-(m+1) for normal values; below the smallest
        // normal the step is fixed, so the absolute error ≤ minNormal·2^-(m+1) (in scaled units).
        double rel = Math.pow(2, -(mantissa(format) + 1));
        for (int i = 0; i < wv.length; i++) {
            double bound = Math.max(Math.abs(wv[i]) * rel, minNormal(format) * rel * scale) * (1 + 1e-5) + 1e-12;
            assertThat((double) Math.abs(back[i] - wv[i])).as("element %d", i).isLessThanOrEqualTo(bound);
        }
    }

    @Test
    void blockwiseScalesAreOnePerRunOfInputColumnsPerRow() {
        int out = 4, in = 48, bs = 16;
        Tensor w = gaussian(2, out, in, 1.0);
        float[] wv = floats(w);
        wv[1 * in + 2 * bs + 5] = 300f;                                                 // one outlier in row 1, block 2
        w = fromFloats(wv, out, in);
        Linear.Float8.Quantized q = Linear.Float8.quantize(w, Format.FP8_E4M3, new WeightStorage.Scaling.Blockwise(bs));
        assertThat(Ops.shape(q.scale())).containsExactly(out, in / bs, 1);
        float[] sv = floats(q.scale());
        for (int o = 0; o < out; o++)
            for (int b = 0; b < in / bs; b++) {
                double m = 0;
                for (int k = b * bs; k < (b + 1) * bs; k++) m = Math.max(m, Math.abs(wv[o * in + k]));
                assertThat((double) sv[o * (in / bs) + b]).as("scale[%d, %d]", o, b)
                        .isCloseTo(m / 448.0, org.assertj.core.data.Percentage.withPercentage(1e-4));
            }
        // Every element is within half an e4m3 ulp of its own block's grid: relative 2^-4, or
        // 2^-10·scale[o, b] below the smallest normal. A small weight in a block without the
        // outlier stays a normal number there, while one per-tensor scale (set by the outlier)
        // makes it subnormal and loses most of its digits.
        float[] back = floats(Linear.Float8.dequantize(q.values(), q.scale(), ScalarType.Float));
        for (int i = 0; i < wv.length; i++) {
            double blockScale = sv[(i / in) * (in / bs) + (i % in) / bs];
            double bound = Math.max(Math.abs(wv[i]) * Math.pow(2, -4), blockScale * Math.pow(2, -10)) * (1 + 1e-5);
            assertThat((double) Math.abs(back[i] - wv[i])).as("element %d", i).isLessThanOrEqualTo(bound);
        }
        float small = 1e-3f;
        wv[0] = small;                                                                   // row 0, block 0
        w = fromFloats(wv, out, in);
        Linear.Float8.Quantized bq = Linear.Float8.quantize(w, Format.FP8_E4M3, new WeightStorage.Scaling.Blockwise(bs));
        Linear.Float8.Quantized pq = Linear.Float8.quantize(w, Format.FP8_E4M3, new WeightStorage.Scaling.PerTensor());
        double errBlock = Math.abs(floats(Linear.Float8.dequantize(bq.values(), bq.scale(), ScalarType.Float))[0] - small);
        double errTensor = Math.abs(floats(Linear.Float8.dequantize(pq.values(), pq.scale(), ScalarType.Float))[0] - small);
        assertThat(errBlock).isLessThanOrEqualTo(small * Math.pow(2, -4) * (1 + 1e-5));
        assertThat(errTensor).isGreaterThan(10 * errBlock).isGreaterThan(small * 0.1);
    }

    @Test
    void blockwiseFallsBackToPerTensorWhenTheInputSizeIsNotAMultiple() {
        Linear.Float8.Quantized q = Linear.Float8.quantize(gaussian(3, 8, 50, 1.0), Format.FP8_E4M3,
                new WeightStorage.Scaling.Blockwise(16));
        assertThat(q.scale().numel()).isEqualTo(1);
    }

    @Test
    void float8WeightsTakeOneBytePerWeight() {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        tensors.put("lin.weight", gaussian(4, 24, 32, 0.1));
        tensors.put("lin.bias", gaussian(5, 1, 24, 0.1).view(24));
        try (TensorMap source = new TensorMap("crafted", tensors)) {
            Weights w = new Weights(source, CPU);
            Linear l = Linear.take(w, "lin", 32, 24, true, ScalarType.Float, WeightStorage.blockwise(Format.FP8_E5M2, 8));
            w.finish();
            assertThat(l.isFloat8()).isTrue();
            assertThat(l.quantized().element_size()).isEqualTo(1);
            assertThat(l.quantized().nbytes()).isEqualTo(24 * 32);
            assertThat(Ops.shape(l.scale())).containsExactly(24, 4, 1);
            assertThat(Ops.same(l.weight().scalar_type(), ScalarType.Float)).isTrue();
            // forward equals a float32 linear on the upcast weight
            Tensor x = gaussian(6, 3, 32, 1.0);
            Tensor expected = torch.linear(x, l.weight(), new org.bytedeco.pytorch.TensorOptional(l.bias()));
            assertThat(l.forward(x).sub(expected).abs().max().item_double()).isZero();
        }
    }

    /** A ComfyUI-style scaled float8 checkpoint: e4m3 weight, scalar scale_weight, the scaled_fp8 marker. */
    private Path craftScaled(Tensor q, float scale) {
        Map<String, Tensor> t = new LinkedHashMap<>();
        t.put("lin.weight", q);
        t.put("lin.scale_weight", fromFloats(new float[]{scale}).view(new long[]{}));
        t.put("lin.bias", gaussian(8, 1, 16, 0.1).view(16));
        t.put("scaled_fp8", torch.empty(new long[]{0}, new TensorOptions(ScalarType.Float8_e4m3fn), new MemoryFormatOptional()));
        Path file = dir.resolve("scaled.safetensors");
        SafetensorsWriter.write(file, t);
        return file;
    }

    @Test
    void aScaledFloat8CheckpointIsReadAsStoredAndUpcastToQTimesScale() {
        Tensor q = gaussian(7, 16, 32, 50).to(ScalarType.Float8_e4m3fn);             // [16, 32] float8, |q| ≲ 200
        float scale = 0.0123f;
        float[] qv = floats(q);
        try (Checkpoint ckpt = Checkpoint.open(craftScaled(q, scale))) {
            Weights w = new Weights(ckpt, CPU);
            assertThat(w.skip("scaled_fp8")).isTrue();
            // asked for e5m2 block-wise: a weight stored as float8 keeps its own values and scale
            Linear l = Linear.take(w, "lin", 32, 16, true, ScalarType.Float, WeightStorage.blockwise(Format.FP8_E5M2, 8));
            w.finish();
            assertThat(Ops.same(l.quantized().scalar_type(), ScalarType.Float8_e4m3fn)).isTrue();
            assertThat(l.quantized().nbytes()).isEqualTo(16 * 32);
            assertThat(l.scale().item_double()).isEqualTo((double) scale);
            float[] up = floats(l.weight());
            for (int i = 0; i < qv.length; i++) assertThat(up[i]).as("element %d", i).isEqualTo(qv[i] * scale);
        }
        try (Checkpoint ckpt = Checkpoint.open(dir.resolve("scaled.safetensors"))) {
            Weights w = new Weights(ckpt, CPU);
            w.skip("scaled_fp8");
            Linear l = Linear.take(w, "lin", 32, 16, true, ScalarType.Float);       // compute storage: upcast once
            w.finish();
            assertThat(l.isFloat8()).isFalse();
            float[] up = floats(l.weight());
            for (int i = 0; i < qv.length; i++) assertThat(up[i]).isEqualTo(qv[i] * scale);
        }
    }

    @Test
    void theScaledMarkerIsReportedWhenNobodyConsumesIt() {
        Tensor q = gaussian(9, 16, 32, 1).to(ScalarType.Float8_e4m3fn);
        try (Checkpoint ckpt = Checkpoint.open(craftScaled(q, 1f))) {
            Weights w = new Weights(ckpt, CPU);
            Linear.take(w, "lin", 32, 16, true, ScalarType.Float, WeightStorage.perTensor(Format.FP8_E4M3));
            assertThatThrownBy(w::finish).isInstanceOf(WeightsException.class)
                    .hasMessageContaining("1 problem(s)").hasMessageContaining("unexpected key 'scaled_fp8'");
        }
    }

    @Test
    void aFloat8WeightWithoutScaleHasScaleOne() {
        Tensor q = gaussian(10, 8, 8, 4).to(ScalarType.Float8_e5m2);
        Map<String, Tensor> t = new LinkedHashMap<>();
        t.put("lin.weight", q);
        try (TensorMap source = new TensorMap("crafted", t)) {
            Weights w = new Weights(source, CPU);
            Linear l = Linear.take(w, "lin", 8, 8, false, ScalarType.Float, WeightStorage.perTensor(Format.FP8_E4M3));
            w.finish();
            assertThat(Ops.same(l.quantized().scalar_type(), ScalarType.Float8_e5m2)).isTrue();
            assertThat(floats(l.weight())).containsExactly(floats(q));
        }
    }

    @Test
    void aMisshapenScaleIsNamed() {
        Map<String, Tensor> t = new LinkedHashMap<>();
        t.put("lin.weight", gaussian(11, 8, 8, 4).to(ScalarType.Float8_e4m3fn));
        t.put("lin.scale_weight", fromFloats(new float[]{1, 2, 3}, 3));
        try (TensorMap source = new TensorMap("crafted", t)) {
            Weights w = new Weights(source, CPU);
            Linear.take(w, "lin", 8, 8, false, ScalarType.Float, WeightStorage.COMPUTE);
            assertThatThrownBy(w::finish).isInstanceOf(WeightsException.class)
                    .hasMessageContaining("'lin.scale_weight'").hasMessageContaining("[3]");
        }
    }
}
