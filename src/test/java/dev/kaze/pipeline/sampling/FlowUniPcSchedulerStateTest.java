package dev.kaze.pipeline.sampling;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static dev.kaze.pipeline.sampling.FlowUniPcSchedulerTest.toy;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Snapshot mid-way, restore, continue: bit-identical to an uninterrupted run. */
class FlowUniPcSchedulerStateTest {
    private PointerScope scope;

    @BeforeEach void openScope() { scope = new PointerScope(); }

    @AfterEach void closeScope() { scope.close(); }

    private static Tensor noise(long seed) {
        Random r = new Random(seed);
        float[] v = new float[16 * 3 * 4 * 6];
        for (int i = 0; i < v.length; i++) v[i] = (float) r.nextGaussian();
        return torch.tensor(v).reshape(1, 16, 3, 4, 6);
    }

    private static List<Tensor> uninterrupted(int steps, double shift, Tensor x) {
        List<Tensor> out = new ArrayList<>();
        try (FlowUniPcScheduler s = new FlowUniPcScheduler()) {
            s.setTimesteps(steps, shift);
            float[] sigmas = s.sigmas();
            for (int i = 0; i < steps; i++) {
                x = s.step(toy(x, sigmas[i]), x);
                out.add(x);
            }
        }
        return out;
    }

    @Test void resumeFromEverySnapshotPointIsBitIdentical() {
        for (int[] config : new int[][] {{8, 5}, {5, 3}, {2, 8}}) {
            int steps = config[0];
            double shift = config[1];
            Tensor start = noise(42 + steps);
            List<Tensor> expected = uninterrupted(steps, shift, start);
            for (int k = 0; k <= steps; k++) {
                FlowUniPcScheduler.State state;
                Tensor x = start;
                try (FlowUniPcScheduler first = new FlowUniPcScheduler()) {
                    first.setTimesteps(steps, shift);
                    float[] sigmas = first.sigmas();
                    for (int i = 0; i < k; i++) x = first.step(toy(x, sigmas[i]), x);
                    state = first.snapshot();
                    // the original keeps going with other inputs: the snapshot must not change
                    if (k < steps) first.step(noise(7), noise(8));
                }
                assertEquals(k, state.stepIndex());
                try (state; FlowUniPcScheduler resumed = new FlowUniPcScheduler()) {
                    resumed.setTimesteps(3, 1.0);   // a different schedule is replaced by the state's
                    for (int attempt = 0; attempt < 2; attempt++) {   // a State can be restored more than once
                        resumed.restore(state);
                        assertEquals(k, resumed.stepIndex());
                        float[] sigmas = resumed.sigmas();
                        Tensor y = x;
                        for (int i = k; i < steps; i++) {
                            y = resumed.step(toy(y, sigmas[i]), y);
                            assertTrue(y.equal(expected.get(i)),
                                    steps + "/" + shift + ": snapshot after " + k + " steps, step " + i + " differs");
                        }
                        assertEquals(steps, resumed.stepIndex());
                    }
                }
            }
        }
    }

    @Test void stateHoldsExactlyTheHistoryOfItsStep() {
        try (FlowUniPcScheduler s = new FlowUniPcScheduler()) {
            s.setTimesteps(4, 5.0);
            try (FlowUniPcScheduler.State s0 = s.snapshot()) {
                assertNull(s0.lastSample());
                assertNull(s0.lastModelOutput());
                assertEquals(0, s0.lowerOrderNums());
            }
            float[] sigmas = s.sigmas();
            Tensor x = noise(1);
            x = s.step(toy(x, sigmas[0]), x);
            try (FlowUniPcScheduler.State s1 = s.snapshot()) {
                assertNull(s1.previousModelOutput());
                assertEquals(1, s1.thisOrder());
                assertEquals(1, s1.lowerOrderNums());
            }
            x = s.step(toy(x, sigmas[1]), x);
            try (FlowUniPcScheduler.State s2 = s.snapshot()) {
                assertEquals(2, s2.thisOrder());
                assertEquals(2, s2.lowerOrderNums());
                assertTrue(s2.previousModelOutput() != null && s2.lastSample() != null);
            }
        }
    }

    @Test void inconsistentStatesAreRejected() {
        Tensor t = noise(3);
        assertThrows(IllegalArgumentException.class, () -> new FlowUniPcScheduler.State(8, 5.0, 9, 2, 1, t, t, t));
        assertThrows(IllegalArgumentException.class, () -> new FlowUniPcScheduler.State(8, 5.0, 2, 2, 2, null, t, t));
        assertThrows(IllegalArgumentException.class, () -> new FlowUniPcScheduler.State(8, 5.0, 3, 1, 2, t, t, t));
        assertThrows(IllegalArgumentException.class, () -> new FlowUniPcScheduler.State(8, 5.0, 0, 0, 0, null, t, null));
    }
}
