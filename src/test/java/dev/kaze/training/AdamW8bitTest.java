package dev.kaze.training;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * {@link AdamW8bit} against a float64 reference of the same quantised update, written here from
 * bitsandbytes' description: the dynamic code, block-wise absmax over 256 elements, nearest-code
 * rounding, and the update order (dequantise, update both moments, decay, step, requantise).
 */
class AdamW8bitTest {
    static final int BLOCK = 256;

    /** create_dynamic_map in float64: midpoints of linspace(0.1, 1, k + 1) times 10^(i − 6), k = 2^i (signed, ±) or 2^(i+1); 0 and 1; sorted. */
    static double[] referenceMap(boolean signed) {
        List<Double> values = new ArrayList<>();
        for (int i = 0; i < 7; i++) {
            int k = signed ? 1 << i : 1 << (i + 1);
            double step = 0.9 / k;
            for (int j = 0; j < k; j++) {
                double mid = (0.1 + j * step + 0.1 + (j + 1) * step) / 2 * Math.pow(10, i - 6);
                values.add(mid);
                if (signed) values.add(-mid);
            }
        }
        values.add(0.0);
        values.add(1.0);
        return values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    }

    @Test void theDynamicMapsAreBitsandbytes() {
        try (PointerScope scope = new PointerScope()) {
            for (boolean signed : new boolean[]{true, false}) {
                double[] expected = referenceMap(signed);
                Tensor actual = AdamW8bit.dynamicMap(signed);
                assertEquals(256, expected.length);
                assertEquals(256, actual.numel());
                for (int i = 0; i < 256; i++)
                    assertEquals(expected[i], actual.get(i).item_double(), 1e-6 * Math.abs(expected[i]) + 1e-12, (signed ? "signed" : "unsigned") + " code " + i);
            }
            double[] signed = referenceMap(true), unsigned = referenceMap(false);
            assertEquals(1.0, signed[255], 0.0);
            assertThat(signed[0]).isBetween(-1.0, -0.99);   // the signed map has no −1
            assertEquals(0.0, unsigned[0], 0.0);
            assertThat(Arrays.stream(unsigned).filter(v -> v < 0).count()).isZero();
        }
    }

    /** A float64 parameter with bitsandbytes 8-bit block-wise moments, updated in lock-step with the implementation. */
    static final class Reference {
        final double[] p, code1 = referenceMap(true), code2 = referenceMap(false);
        int[] q1, q2;
        double[] absmax1, absmax2;
        int roundingTies;

        Reference(double[] p) {
            this.p = p.clone();
            int blocks = (p.length + BLOCK - 1) / BLOCK;
            q1 = new int[p.length];
            q2 = new int[p.length];
            absmax1 = new double[blocks];
            absmax2 = new double[blocks];
        }

        double[] decode(int[] q, double[] absmax, double[] code) {
            double[] out = new double[q.length];
            for (int i = 0; i < q.length; i++) out[i] = code[q[i]] * absmax[i / BLOCK];
            return out;
        }

        /** Normalised values (value / block absmax) and the absmax per block. */
        static double[][] normalise(double[] x) {
            double[] absmax = new double[(x.length + BLOCK - 1) / BLOCK], normed = new double[x.length];
            for (int i = 0; i < x.length; i++) absmax[i / BLOCK] = Math.max(absmax[i / BLOCK], Math.abs(x[i]));
            for (int i = 0; i < x.length; i++) normed[i] = absmax[i / BLOCK] == 0 ? 0 : Math.max(-1, Math.min(1, x[i] / absmax[i / BLOCK]));
            return new double[][]{normed, absmax};
        }

        static int nearest(double v, double[] code) {
            int best = 0;
            for (int j = 1; j < code.length; j++) if (Math.abs(code[j] - v) < Math.abs(code[best] - v)) best = j;
            return best;
        }

        void step(double[] g, int t, AdamW.Settings s) {
            double[] m = decode(q1, absmax1, code1), v = decode(q2, absmax2, code2);
            double bc1 = 1 - Math.pow(s.beta1(), t), bc2 = 1 - Math.pow(s.beta2(), t);
            for (int i = 0; i < p.length; i++) {
                m[i] = s.beta1() * m[i] + (1 - s.beta1()) * g[i];
                v[i] = s.beta2() * v[i] + (1 - s.beta2()) * g[i] * g[i];
                p[i] *= 1 - s.lr() * s.weightDecay();
                p[i] -= s.lr() / bc1 * m[i] / (Math.sqrt(v[i]) / Math.sqrt(bc2) + s.eps());
            }
            double[][] n1 = normalise(m), n2 = normalise(v);
            absmax1 = n1[1];
            absmax2 = n2[1];
            pending1 = n1[0];
            pending2 = n2[0];
        }

        double[] pending1, pending2;

        /**
         * Takes the implementation's code indices for the moments just updated: each must be the nearest
         * code to the reference's normalised value, or, where that value lies within float32 rounding of
         * the midpoint between two codes, the other one of the two.
         */
        void requantise(int[] impl1, int[] impl2) {
            q1 = accept(pending1, code1, impl1, "first moment");
            q2 = accept(pending2, code2, impl2, "second moment");
        }

        int[] accept(double[] normed, double[] code, int[] impl, String what) {
            int[] q = new int[normed.length];
            for (int i = 0; i < normed.length; i++) {
                int ref = nearest(normed[i], code);
                if (impl[i] != ref) {
                    double mid = (code[impl[i]] + code[ref]) / 2;
                    assertThat(Math.abs(impl[i] - ref)).as(what + " element " + i + ": index " + impl[i] + " vs nearest " + ref).isEqualTo(1);
                    assertThat(Math.abs(normed[i] - mid)).as(what + " element " + i + " is a rounding tie").isLessThanOrEqualTo(1e-6);
                    roundingTies++;
                }
                q[i] = impl[i];
            }
            return q;
        }
    }

    private static double[] values(Tensor t) {
        Tensor d = t.to(torch.ScalarType.Double).contiguous().reshape(-1);
        double[] out = new double[(int) d.numel()];
        d.data_ptr_double().get(out);
        return out;
    }

    private static int[] indices(Tensor q) {
        Tensor i = q.to(torch.ScalarType.Int).contiguous();
        int[] out = new int[(int) i.numel()];
        i.data_ptr_int().get(out);
        return out;
    }

    /**
     * Three steps on a [20, 250] parameter (5000 elements: 19 full blocks and one of 136) and a [7, 9] one
     * (fewer than min_8bit_size: 32-bit moments), gradients of mixed scales and an all-zero block.
     */
    @Test void threeStepsMatchTheFloat64QuantisedUpdate() {
        try (PointerScope scope = new PointerScope()) {
            var s = new AdamW.Settings(1e-2, 0.9, 0.999, 1e-8, 0.01);
            torch.manual_seed(11);
            Tensor big = torch.randn(20, 250).requires_grad_(true), small = torch.randn(7, 9).requires_grad_(true);
            Map<String, Tensor> params = new LinkedHashMap<>();
            params.put("big", big);
            params.put("small", small);
            Reference ref = new Reference(values(big));
            double[] smallP = values(small), smallM = new double[63], smallV = new double[63];
            try (AdamW8bit opt = new AdamW8bit(params, s)) {
                assertNotNull(opt.quantizedState("big"));
                assertNull(opt.quantizedState("small"), "fewer than 4096 elements keep 32-bit moments");
                for (int t = 1; t <= 3; t++) {
                    Tensor gBig = torch.randn(20, 250).mul(torch.logspace(new org.bytedeco.pytorch.Scalar(-4), new org.bytedeco.pytorch.Scalar(0), 250));
                    gBig.narrow(0, 0, 2).narrow(1, 0, 128).zero_();   // rows 0-1, columns 0-127: elements 0..127 and 250..377; block 0 holds 0..255
                    gBig.view(-1).narrow(0, 512, 256).zero_();          // block 2 all zero
                    Tensor gSmall = torch.randn(7, 9).mul(new org.bytedeco.pytorch.Scalar(0.1));
                    for (Tensor p : List.of(big, small)) if (p.grad().defined()) p.grad().zero_();
                    big.mul(gBig).sum().add(small.mul(gSmall).sum()).backward();
                    opt.step();
                    assertEquals(t, opt.steps());

                    double[] g = values(gBig);
                    ref.step(g, t, s);
                    Tensor[] q = opt.quantizedState("big");
                    double[] absmax1 = values(q[1]), absmax2 = values(q[3]);
                    for (int b = 0; b < absmax1.length; b++) {
                        assertEquals(ref.absmax1[b], absmax1[b], 1e-6 * ref.absmax1[b], "step " + t + " block " + b + " first-moment absmax");
                        assertEquals(ref.absmax2[b], absmax2[b], 1e-6 * ref.absmax2[b], "step " + t + " block " + b + " second-moment absmax");
                    }
                    assertEquals(0.0, absmax1[2], 0.0, "an all-zero block has absmax 0");
                    ref.requantise(indices(q[0]), indices(q[2]));
                    double[] p = values(big);
                    double scale = Arrays.stream(ref.p).map(Math::abs).max().orElseThrow();
                    for (int i = 0; i < p.length; i++) assertEquals(ref.p[i], p[i], 1e-6 * scale, "step " + t + " parameter element " + i);

                    double[] gs = values(gSmall);
                    double bc1 = 1 - Math.pow(0.9, t), bc2 = 1 - Math.pow(0.999, t);
                    for (int i = 0; i < 63; i++) {
                        smallM[i] = 0.9 * smallM[i] + 0.1 * gs[i];
                        smallV[i] = 0.999 * smallV[i] + 0.001 * gs[i] * gs[i];
                        smallP[i] *= 1 - 1e-2 * 0.01;
                        smallP[i] -= 1e-2 / bc1 * smallM[i] / (Math.sqrt(smallV[i]) / Math.sqrt(bc2) + 1e-8);
                    }
                    double[] sp = values(small);
                    for (int i = 0; i < 63; i++) assertEquals(smallP[i], sp[i], 1e-6, "step " + t + " small element " + i);
                }
                // the moments read back (for a saved state) are the decoded 8-bit values
                double[] m = values(opt.moments("big")[0]), expected = ref.decode(ref.q1, ref.absmax1, ref.code1);
                for (int i = 0; i < m.length; i++) assertEquals(expected[i], m[i], 1e-6 * Math.abs(expected[i]) + 1e-12, "decoded first moment " + i);
                System.out.println("AdamW8bit: " + ref.roundingTies + " float32 rounding ties in 30000 requantisations");
            }
        }
    }

    /** restore() quantises the given moments: reading them back gives them within one code step of the block. */
    @Test void restoredMomentsRoundTripThroughTheCode() {
        try (PointerScope scope = new PointerScope()) {
            torch.manual_seed(5);
            Tensor p = torch.randn(4096).requires_grad_(true);
            try (AdamW8bit opt = new AdamW8bit(Map.of("p", p), AdamW.Settings.defaults(1e-3))) {
                Tensor m = torch.randn(4096).mul(new org.bytedeco.pytorch.Scalar(1e-3)), v = m.mul(m);
                opt.restore(7, Map.of("p", new Tensor[]{m, v}));
                assertEquals(7, opt.steps());
                Tensor[] back = opt.moments("p");
                // the largest gap between neighbouring codes in [0.1, 1] is 0.9/64 (signed) and 0.9/128 (unsigned): half of it times absmax
                double err1 = back[0].sub(m).abs().max().item_double(), err2 = back[1].sub(v).abs().max().item_double();
                assertThat(err1).isLessThanOrEqualTo(0.9 / 64 / 2 * m.abs().max().item_double() * 1.0001);
                assertThat(err2).isLessThanOrEqualTo(0.9 / 128 / 2 * v.abs().max().item_double() * 1.0001);
                assertThat(err1).isGreaterThan(0);   // really quantised
            }
        }
    }
}
