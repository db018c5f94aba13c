package dev.kaze.tensor;

import dev.kaze.tensor.WeightStorage.Format;
import dev.kaze.tensor.WeightStorage.Matmul;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The CUDA _scaled_mm path: taken at compute capability ≥ 8.9, close to upcasting; upcast below it. */
@Tag("gpu")
class ScaledMmGpuTest {
    @Test
    void cudaScaledMmAgreesWithUpcastWhereTheDeviceSupportsIt() {
        try (PointerScope scope = new PointerScope()) {
            Device cuda = new Device("cuda");
            int capability = ScaledMm.cudaCapability(0);
            System.out.println("CUDA compute capability " + capability);
            assertThat(capability).as("compute capability read through torch_cuda.getDeviceProperties").isGreaterThan(0);
            assertThat(ScaledMm.deviceSupports(cuda)).isEqualTo(capability >= 89);
            Tensor w = torch.randn(256, 512).mul(new Scalar(0.05));
            Linear.Float8.Quantized qs = Linear.Float8.quantize(w, Format.FP8_E4M3, new WeightStorage.Scaling.PerTensor());
            Linear mm = Linear.float8(qs.values().to(cuda, ScalarType.Float8_e4m3fn), qs.scale().to(cuda, ScalarType.Float),
                    torch.randn(256).to(cuda, ScalarType.BFloat16), ScalarType.BFloat16).withMatmul(Matmul.SCALED_MM);
            Tensor x = torch.randn(2, 77, 512).to(cuda, ScalarType.BFloat16);                        // [B, L, in]
            Tensor y = Ops.f32(mm.forward(x)).cpu(), yUp = Ops.f32(mm.withMatmul(Matmul.UPCAST).forward(x)).cpu();
            double diff = y.sub(yUp).abs().max().item_double();
            System.out.printf("CUDA scaled-mm vs upcast: max abs diff %.3e, max |y| %.3e%n", diff, yUp.abs().max().item_double());
            if (capability >= 89) assertThat(diff).isGreaterThan(0).isLessThan(0.15);
            else assertThat(diff).isZero();
        }
    }
}
