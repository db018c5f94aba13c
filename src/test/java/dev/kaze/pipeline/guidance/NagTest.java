package dev.kaze.pipeline.guidance;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class NagTest {
    static Tensor vec(float... v) {
        Tensor t = torch.empty(1, 1, v.length);
        t.data_ptr_float().put(v);
        return t;
    }

    @Test
    void workedExampleOfTheSpec() {
        // wan-inference.md §6.2: s = 11, tau = 2.5, alpha = 0.25; ratio 7 > tau is limited to 2.5
        try (PointerScope scope = new PointerScope()) {
            Tensor out = new Nag(11, 2.5, 0.25).guide(vec(1, -2, 0.5f, 3), vec(0.5f, -1, 1, 1)).contiguous();
            float[] z = new float[4];
            out.data_ptr_float().get(z);
            float[] expected = {1.2857143f, -2.5714285f, -0.0267857f, 4.3035715f};
            for (int i = 0; i < 4; i++) assertThat(z[i]).isCloseTo(expected[i], within(1e-6f));
        }
    }

    @Test
    void belowTauTheGuidedVectorIsKept() {
        // s = 2: g = 2p - n = [1.5, -3, 0, 5], |g|1 = 9.5, |p|1 = 6.5, ratio 1.46 < 2.5: out = 0.5 g + 0.5 p
        try (PointerScope scope = new PointerScope()) {
            Tensor out = new Nag(2, 2.5, 0.5).guide(vec(1, -2, 0.5f, 3), vec(0.5f, -1, 1, 1)).contiguous();
            float[] z = new float[4];
            out.data_ptr_float().get(z);
            assertThat(z).containsExactly(new float[]{1.25f, -2.5f, 0.25f, 4f}, within(1e-6f));
        }
    }

    @Test
    void offAtScaleOneOrBelowAndValidated() {
        assertThat(new Nag(1.0, 2.5, 0.25).active()).isFalse();
        assertThat(new Nag(11, 2.5, 0.25).active()).isTrue();
        assertThatThrownBy(() -> new Nag(Double.NaN, 2.5, 0.25)).hasMessageContaining("nag scale");
        assertThatThrownBy(() -> new Nag(11, 0, 0.25)).hasMessageContaining("nag tau");
        assertThatThrownBy(() -> new Nag(11, 2.5, 1.5)).hasMessageContaining("nag alpha");
        assertThatThrownBy(() -> new Guidance.Cfg(Double.POSITIVE_INFINITY)).hasMessageContaining("guidance scale");
    }
}
