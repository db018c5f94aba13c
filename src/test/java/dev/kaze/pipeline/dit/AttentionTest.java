package dev.kaze.pipeline.dit;

import dev.kaze.tensor.Ops;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

import static dev.kaze.tensor.Ops.stack;
import static org.assertj.core.api.Assertions.assertThat;

/** The CPU attention and RoPE paths against scaled_dot_product_attention and a float64 rotation written out. */
class AttentionTest {
    private static double maxDiff(Tensor a, Tensor b) { return a.sub(b).abs().max().item_double(); }

    @Test
    void explicitAttentionMatchesSdpaForStridedInputsAndEveryChunking() {
        try (PointerScope scope = new PointerScope()) {
            torch.manual_seed(7);
            long b = 2, n = 6, l = 37, lk = 29, d = 16;                  // 6 heads: a chunk of 4 then one of 2
            Tensor q = torch.randn(b, l, n, d).transpose(1, 2);         // [B, N, L, D], strided as the model passes them
            Tensor k = torch.randn(b, lk, n, d).transpose(1, 2);
            Tensor v = torch.randn(b, lk, n, d).transpose(1, 2);
            Tensor expected = Ops.attention(q, k, v);                    // [B, N, L, D]
            for (long bytes : new long[]{Attention.SCORES_BYTES, 4 * 10 * lk * 4, 1}) {   // all rows, 10 rows (last chunk 7), 1 row
                Tensor actual = Attention.forward(q, k, v, bytes);
                assertThat(actual.sizes().vec().get()).containsExactly(b, n, l, d);
                assertThat(maxDiff(actual, expected)).as("scores budget %d bytes", bytes).isLessThan(1e-5);
            }
            // heads merged by the callers' transpose(1, 2).reshape: a free view on the explicit path
            assertThat(Attention.forward(q, k, v).transpose(1, 2).is_contiguous()).isTrue();
        }
    }

    @Test
    void withAutogradTheSameNumbersComeOutAndGradientsFlow() {
        try (PointerScope scope = new PointerScope()) {
            torch.manual_seed(11);
            Tensor q = torch.randn(1, 5, 6, 8).transpose(1, 2), k = torch.randn(1, 7, 6, 8).transpose(1, 2), v = torch.randn(1, 7, 6, 8).transpose(1, 2);
            Tensor qg = q.detach().clone().set_requires_grad(true);
            Tensor out = Attention.forward(qg, k, v);
            assertThat(torch.equal(out.detach(), Attention.forward(q, k, v))).as("grad and no-grad paths agree bit for bit").isTrue();
            out.sum().backward();
            assertThat(qg.grad().defined()).isTrue();
            assertThat(maxDiff(out.detach(), Ops.attention(q, k, v))).isLessThan(1e-5);
        }
    }

    @Test
    void ropeRotationMatchesTheFloat64PairRotation() {
        try (PointerScope scope = new PointerScope()) {
            torch.manual_seed(3);
            long f = 3, h = 4, w = 5, l = f * h * w, n = 2, d = 24;
            Tensor freqs = new RopeFreqs((int) d).table(f, h, w);                             // [L, 1, D/2] complex64
            assertThat(freqs.sizes().vec().get()).containsExactly(l, 1, d / 2);
            Tensor x = torch.randn(1, l, n, d).mul(Ops.s(10));                                  // [1, L, N, D]
            // the reference: x viewed as float64 pairs times polar(1, angle), angles from rope_params in float64
            Tensor angle = torch.angle(freqs.to(ScalarType.ComplexDouble));                    // [L, 1, D/2] (float32-rounded cos/sin)
            Tensor cos = angle.cos(), sin = angle.sin();
            Tensor xd = x.to(ScalarType.Double).reshape(1, l, n, d / 2, 2);
            Tensor x0 = xd.select(-1, 0), x1 = xd.select(-1, 1);
            Tensor expected = stack(-1, x0.mul(cos).sub(x1.mul(sin)), x0.mul(sin).add(x1.mul(cos))).reshape(1, l, n, d);
            Tensor actual = RopeFreqs.apply(x.clone(), freqs);
            assertThat(maxDiff(actual.to(ScalarType.Double), expected)).isLessThan(1e-4);   // |x| ~ 30: float32 rounding
            assertThat(maxDiff(actual, x)).isGreaterThan(1);                                    // it did rotate
            // the first time position is angle 0 along every axis: token 0 is unchanged
            assertThat(maxDiff(actual.select(1, 0), x.select(1, 0))).isLessThan(1e-6);
        }
    }
}
