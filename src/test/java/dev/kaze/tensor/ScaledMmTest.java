package dev.kaze.tensor;

import dev.kaze.tensor.WeightStorage.Format;
import dev.kaze.tensor.WeightStorage.Matmul;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

/** Linear's float8 matmul through aten::_scaled_mm against the same layer upcasting its weight. */
class ScaledMmTest {
    @BeforeAll static void seed() { torch.manual_seed(7); }

    private static Linear layer(long out, long in, WeightStorage storage) {
        Tensor w = torch.randn(out, in).mul(new Scalar(0.05));                                  // [out, in]
        Linear.Float8.Quantized qs = Linear.Float8.quantize(w, storage.format(), storage.scaling());
        return Linear.float8(qs.values(), qs.scale(), torch.randn(out), ScalarType.Float).withMatmul(storage.matmul());
    }

    private static double maxAbs(Tensor a, Tensor b) { return a.sub(b).abs().max().item_double(); }

    @Test
    void theCpuBuildHasAScaledMmKernel() {
        assertThat(ScaledMm.deviceSupports(new Device(torch.DeviceType.CPU))).isTrue();
    }

    @Test
    void scaledMmMultipliesTheE4m3QuantisedInputByTheFloat8Weight() {
        try (PointerScope scope = new PointerScope()) {
            Linear mm = layer(48, 64, WeightStorage.perTensor(Format.FP8_E4M3).withMatmul(Matmul.SCALED_MM));
            Linear up = mm.withMatmul(Matmul.UPCAST);
            Tensor x = torch.randn(2, 5, 64);                                                    // [B, L, in]
            Tensor y = mm.forward(x), yUp = up.forward(x);                                       // [B, L, out]
            assertThat(Ops.shape(y)).containsExactly(2, 5, 48);
            // the exact product of the quantised input and weight, computed here in float64
            Tensor sx = x.abs().max().div(new Scalar(448.0));
            Tensor xq = x.div(sx).to(ScalarType.Float8_e4m3fn).to(ScalarType.Double).mul(sx.to(ScalarType.Double)); // [B, L, in]
            Tensor ref = torch.matmul(xq, up.weight().to(ScalarType.Double).t()).add(mm.bias().to(ScalarType.Double));
            double vsRef = maxAbs(y.to(ScalarType.Double), ref), vsUpcast = maxAbs(y, yUp);
            System.out.printf("SCALED_MM vs quantised-input reference %.3e, vs upcast %.3e, max |y| %.3e%n",
                    vsRef, vsUpcast, yUp.abs().max().item_double());
            assertThat(vsRef).isLessThan(1e-4);                       // float32 accumulation of the same products
            assertThat(vsUpcast).isGreaterThan(1e-4).isLessThan(0.1); // the input's e4m3 rounding, and only that
        }
    }

    @Test
    void scaledMmOutputsBfloat16() {
        try (PointerScope scope = new PointerScope()) {
            Tensor w = torch.randn(32, 64).mul(new Scalar(0.05));
            Linear.Float8.Quantized qs = Linear.Float8.quantize(w, Format.FP8_E4M3, new WeightStorage.Scaling.PerTensor());
            Linear mm = Linear.float8(qs.values(), qs.scale(), null, ScalarType.BFloat16).withMatmul(Matmul.SCALED_MM);
            Tensor x = torch.randn(7, 64);
            Tensor y = mm.forward(x);
            assertThat(Ops.same(y.scalar_type(), ScalarType.BFloat16)).isTrue();
            double err = maxAbs(Ops.f32(y), Ops.f32(mm.withMatmul(Matmul.UPCAST).forward(x)));
            assertThat(err).isGreaterThan(0).isLessThan(0.1);
        }
    }

    @Test
    void layersTheKernelCannotTakeUpcast() {
        try (PointerScope scope = new PointerScope()) {
            for (Linear mm : new Linear[]{
                    layer(48, 64, WeightStorage.blockwise(Format.FP8_E4M3, 16).withMatmul(Matmul.SCALED_MM)),   // block-wise scales
                    layer(48, 64, WeightStorage.perTensor(Format.FP8_E5M2).withMatmul(Matmul.SCALED_MM)),      // e5m2 weight
                    layer(40, 64, WeightStorage.perTensor(Format.FP8_E4M3).withMatmul(Matmul.SCALED_MM))}) {    // out not a multiple of 16
                Tensor x = torch.randn(3, 64);
                assertThat(torch.equal(mm.forward(x), mm.withMatmul(Matmul.UPCAST).forward(x))).isTrue();
            }
            Linear mm = layer(48, 64, WeightStorage.perTensor(Format.FP8_E4M3).withMatmul(Matmul.SCALED_MM));
            Tensor x = torch.randn(3, 64).requires_grad_(true);                                  // training: needs a gradient
            assertThat(torch.equal(mm.forward(x), mm.withMatmul(Matmul.UPCAST).forward(x))).isTrue();
        }
    }

    @Test
    void theOptionCarriesThroughBlockSwapCopies() {
        try (PointerScope scope = new PointerScope()) {
            Linear mm = layer(48, 64, WeightStorage.perTensor(Format.FP8_E4M3).withMatmul(Matmul.SCALED_MM));
            Tensor[] copies = {mm.storedTensors()[0].clone(), mm.storedTensors()[1].clone()};
            Tensor x = torch.randn(3, 64);
            assumeThat(ScaledMm.deviceSupports(new Device(torch.DeviceType.CPU))).isTrue();
            assertThat(torch.equal(mm.withStoredTensors(copies).forward(x), mm.forward(x))).isTrue();
            assertThat(torch.equal(mm.forward(x), mm.withMatmul(Matmul.UPCAST).forward(x))).isFalse();
        }
    }
}
