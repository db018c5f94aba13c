// Port of wan/utils/fm_solvers_unipc.py, FlowUniPCMultistepScheduler (as WanT2V.generate configures it)
package dev.kaze.pipeline.sampling;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;

import java.util.Arrays;

/**
 * The flow-matching UniPC multistep sampler exactly as Wan2.1 uses it: constructed with
 * {@code num_train_timesteps=1000, shift=1}, then {@link #setTimesteps(int, double)} with the sample shift; solver
 * order 2, {@code bh2}, {@code predict_x0}, {@code flow_prediction}, {@code lower_order_final}, corrector on every
 * step but the first, final sigma 0. Spec: wan-inference.md §5.1–§5.3.
 *
 * <p>Numerics follow the reference: the schedule is built in float64 and the solver sigmas cast to float32; every
 * solver scalar (λ, h, φ₁, B(h), r, ρ) is computed in float32 in the reference's operation order (the reference holds
 * them as float32 0-dim tensors); latent arithmetic runs on libtorch tensors, one op per reference op, in the
 * sample's dtype.
 *
 * <p>Native memory: the scheduler owns the tensors it keeps between steps (the last two x0 predictions and the last
 * sample) and frees them on {@link #reset()}, {@link #setTimesteps}, {@link #restore} and {@link #close()}.
 * {@link #step} frees its temporaries and attaches its result to the caller's innermost {@link PointerScope}.
 * It never modifies its inputs. Not thread-safe: use it on the thread that owns the device.
 *
 * <p>Difference from the reference: the step counter starts at 0 (as after {@code set_begin_index(0)}) instead of
 * being looked up from the first timestep, which matters only where truncation makes the first two timesteps equal
 * (more than ~250 steps), a case in which the reference skips step 0 and fails on its last step.
 */
public final class FlowUniPcScheduler implements AutoCloseable {
    /** {@code num_train_timesteps}. */
    public static final int NUM_TRAIN_TIMESTEPS = 1000;
    /** {@code solver_order}. */
    public static final int SOLVER_ORDER = 2;

    /**
     * {@code sigma_max} of the reference's {@code __init__}: float32(1 − 1/1000) (alphas = linspace(1, 1/T, T)
     * reversed, whose first element is exactly 1/T; shift 1 leaves it unchanged), widened to float64 by
     * {@code .item()}. {@code sigma_min} is 1 − 1 = 0.
     */
    static final double SIGMA_MAX = (float) (1.0 - 1.0 / NUM_TRAIN_TIMESTEPS);
    static final double SIGMA_MIN = 0.0;

    private int steps;
    private double shift;
    private long[] timesteps;
    private float[] sigmas;

    // The reference's step bookkeeping. model_outputs = [previousModelOutput, lastModelOutput].
    private Tensor previousModelOutput;
    private Tensor lastModelOutput;
    private Tensor lastSample;
    private int lowerOrderNums;
    private int thisOrder;
    private int stepIndex;

    /**
     * Everything {@link #step} carries from one call to the next, so that a render can be checkpointed mid-way and
     * resumed bit-identically: the schedule ({@code steps}, {@code shift}), the index of the next step, the
     * reference's {@code lower_order_nums} and {@code this_order}, its {@code model_outputs} history (the x0
     * predictions of the previous two steps, {@code null} where not made yet) and {@code last_sample} (the sample
     * the last predictor started from, {@code null} before the first step).
     *
     * <p>The tensors of a State made by {@link #snapshot()} are private copies owned by the State (on the scheduler's
     * device and dtype): {@link #close()} frees them. {@link #restore} copies them again, so one State can be restored
     * any number of times. A State built by hand (e.g. from a checkpoint file) must satisfy the same invariants,
     * which the constructor checks.
     */
    public record State(int steps, double shift, int stepIndex, int lowerOrderNums, int thisOrder,
                        Tensor previousModelOutput, Tensor lastModelOutput, Tensor lastSample) implements AutoCloseable {
        public State {
            checkSchedule(steps, shift);
            if (stepIndex < 0 || stepIndex > steps)
                throw new IllegalArgumentException("scheduler state: step index " + stepIndex + " is outside 0.." + steps
                        + " for a " + steps + "-step schedule; the checkpoint does not belong to this schedule");
            int expectedLower = Math.min(stepIndex, SOLVER_ORDER);
            int expectedOrder = stepIndex == 0 ? 0 : orderOf(stepIndex - 1, steps);
            if (lowerOrderNums != expectedLower || thisOrder != expectedOrder)
                throw new IllegalArgumentException("scheduler state: lower_order_nums " + lowerOrderNums + " and this_order "
                        + thisOrder + " do not match step index " + stepIndex + " (expected " + expectedLower + " and "
                        + expectedOrder + "); the checkpoint is corrupt");
            if ((lastModelOutput != null) != (stepIndex >= 1) || (lastSample != null) != (stepIndex >= 1)
                    || (previousModelOutput != null) != (stepIndex >= 2))
                throw new IllegalArgumentException("scheduler state at step " + stepIndex + " needs "
                        + (stepIndex == 0 ? "no tensors" : stepIndex == 1 ? "lastModelOutput and lastSample only"
                        : "previousModelOutput, lastModelOutput and lastSample") + "; the checkpoint is incomplete");
        }

        /** Frees the tensors this State holds. */
        @Override public void close() {
            release(previousModelOutput);
            release(lastModelOutput);
            release(lastSample);
        }
    }

    /** The reference's construction {@code FlowUniPCMultistepScheduler(num_train_timesteps=1000, shift=1)}. */
    public FlowUniPcScheduler() {}

    /**
     * {@code set_timesteps(steps, shift=shift)}: builds the schedule and clears the step state.
     *
     * @param steps number of denoising steps (model calls), at least 1
     * @param shift the sample shift (Wan t2v default 5.0), finite and positive
     */
    public void setTimesteps(int steps, double shift) {
        checkSchedule(steps, shift);
        // sigmas = np.linspace(sigma_max, sigma_min, steps + 1)[:-1], numpy's float64 formula: start + i * step
        double delta = (SIGMA_MIN - SIGMA_MAX) / steps;
        long[] ts = new long[steps];
        float[] sg = new float[steps + 1];
        for (int i = 0; i < steps; i++) {
            double sigma = i * delta + SIGMA_MAX;
            sigma = shift * sigma / (1 + (shift - 1) * sigma);
            ts[i] = (long) (sigma * NUM_TRAIN_TIMESTEPS);   // torch .to(int64) truncates toward zero
            sg[i] = (float) sigma;                          // np .astype(float32) rounds to nearest
        }
        sg[steps] = 0f;                                     // final_sigmas_type 'zero'
        this.steps = steps;
        this.shift = shift;
        this.timesteps = ts;
        this.sigmas = sg;
        reset();
    }

    /** Clears the step state (history, last sample, step index) and keeps the schedule. */
    public void reset() {
        release(previousModelOutput);
        release(lastModelOutput);
        release(lastSample);
        previousModelOutput = lastModelOutput = lastSample = null;
        lowerOrderNums = 0;
        thisOrder = 0;
        stepIndex = 0;
    }

    /** The integer timesteps the model receives, one per step ({@code int64(σ·1000)}, truncated). */
    public long[] timesteps() {
        requireSchedule();
        return timesteps.clone();
    }

    /** The float32 solver sigmas, steps + 1 values, the last 0. */
    public float[] sigmas() {
        requireSchedule();
        return sigmas.clone();
    }

    /** The number of steps of the current schedule. */
    public int steps() {
        requireSchedule();
        return steps;
    }

    /** The shift of the current schedule. */
    public double shift() {
        requireSchedule();
        return shift;
    }

    /** The index of the next step: 0 before the first, {@link #steps()} when the schedule is done. */
    public int stepIndex() { return stepIndex; }

    /** The timestep the model must get for the next step. */
    public long timestep() {
        requireStepLeft();
        return timesteps[stepIndex];
    }

    /**
     * One UniPC step ({@code step}): corrects {@code sample} with the new model output (UniC, from the second step
     * on), then predicts the next sample (UniP).
     *
     * @param modelOutput the (guided) flow prediction v at {@code sigmas()[stepIndex()]}, same shape as sample
     * @param sample the current latent x
     * @return the latent at the next sigma; after the last step the last x0 prediction. A new tensor attached to
     *     the caller's innermost PointerScope.
     */
    public Tensor step(Tensor modelOutput, Tensor sample) {
        requireStepLeft();
        if (!modelOutput.is_same_size(sample))
            throw new IllegalArgumentException("model output " + Arrays.toString(modelOutput.sizes().vec().get())
                    + " and sample " + Arrays.toString(sample.sizes().vec().get()) + " must have the same shape");
        PointerScope outer = PointerScope.getInnerScope();
        Tensor prevSample;
        try (PointerScope scope = new PointerScope()) {
            boolean useCorrector = stepIndex > 0 && lastSample != null;
            Tensor modelOutputConvert = convertModelOutput(modelOutput, sample);
            Tensor x = useCorrector ? multistepUniCBhUpdate(modelOutputConvert, lastSample, thisOrder) : sample;

            release(previousModelOutput);
            previousModelOutput = lastModelOutput;
            lastModelOutput = keep(modelOutputConvert);

            // lower_order_final, then warm-up for the multistep history
            thisOrder = Math.min(Math.min(SOLVER_ORDER, steps - stepIndex), lowerOrderNums + 1);
            release(lastSample);
            lastSample = keep(x == sample ? sample.clone() : x);   // own copy: the caller may reuse its tensor
            prevSample = multistepUniPBhUpdate(lastSample, thisOrder);

            if (lowerOrderNums < SOLVER_ORDER) lowerOrderNums++;
            stepIndex++;
            if (outer != null) outer.attach(prevSample);
            else prevSample.retainReference();
        }
        return prevSample;
    }

    /**
     * A copy of the step state, to resume later with {@link #restore}. The State owns copies of the tensors; close
     * it when done.
     */
    public State snapshot() {
        requireSchedule();
        try (PointerScope scope = new PointerScope()) {
            return new State(steps, shift, stepIndex, lowerOrderNums, thisOrder,
                    keepCopy(previousModelOutput), keepCopy(lastModelOutput), keepCopy(lastSample));
        }
    }

    /**
     * Puts this scheduler into the given state (its schedule included): the next {@link #step} continues exactly as
     * the scheduler that made the snapshot would have. The State stays valid and owned by the caller.
     */
    public void restore(State state) {
        setTimesteps(state.steps(), state.shift());
        try (PointerScope scope = new PointerScope()) {
            previousModelOutput = keepCopy(state.previousModelOutput());
            lastModelOutput = keepCopy(state.lastModelOutput());
            lastSample = keepCopy(state.lastSample());
        }
        lowerOrderNums = state.lowerOrderNums();
        thisOrder = state.thisOrder();
        stepIndex = state.stepIndex();
    }

    /** Frees the tensors held between steps. */
    @Override public void close() { reset(); }

    // convert_model_output, flow_prediction + predict_x0: x0 = x − σ·v
    private Tensor convertModelOutput(Tensor modelOutput, Tensor sample) {
        float sigmaT = sigmas[stepIndex];
        return sample.sub(modelOutput.mul(new Scalar(sigmaT)));           // x0_pred: [B, C, F, H, W]
    }

    // multistep_uni_p_bh_update: predictor from sigmas[i] to sigmas[i+1]
    private Tensor multistepUniPBhUpdate(Tensor x, int order) {
        int i = stepIndex;
        Tensor m0 = lastModelOutput;                                      // m0: [B, C, F, H, W]
        float sigmaT = sigmas[i + 1], sigmaS0 = sigmas[i];
        if (sigmaT == 0f) {
            // Final step. In the reference λ_t = +inf, so h_phi_1 = B_h = expm1(−inf) = −1, σ_t/σ_s0 = 0 and
            // x_t = 0·x − 1·(−1)·m0 = m0: the last x0 prediction (order is 1 here by lower_order_final).
            return m0.clone().to(x.scalar_type());
        }
        float alphaT = 1f - sigmaT;
        float lambdaT = lambda(sigmaT);
        float lambdaS0 = lambda(sigmaS0);
        float h = lambdaT - lambdaS0;
        float hh = -h;
        float hPhi1 = expm1(hh);
        float bH = expm1(hh);                                             // bh2

        Tensor xT = x.mul(new Scalar(sigmaT / sigmaS0)).sub(m0.mul(new Scalar(alphaT * hPhi1)));   // x_t_: [B, C, F, H, W]
        if (order == 2) {
            float lambdaS1 = lambda(sigmas[i - 1]);
            float rk = (lambdaS1 - lambdaS0) / h;
            Tensor d1 = previousModelOutput.sub(m0).div(new Scalar(rk));  // D1s[0]: [B, C, F, H, W]
            Tensor predRes = d1.mul(new Scalar(0.5f));                    // einsum with rhos_p = [0.5]
            xT = xT.sub(predRes.mul(new Scalar(alphaT * bH)));
        }
        return xT.to(x.scalar_type());
    }

    // multistep_uni_c_bh_update: corrects the predictor's result for sigmas[i] using the new x0 prediction
    private Tensor multistepUniCBhUpdate(Tensor modelT, Tensor x, int order) {
        int i = stepIndex;
        Tensor m0 = lastModelOutput;                                      // m0: [B, C, F, H, W]
        float sigmaT = sigmas[i], sigmaS0 = sigmas[i - 1];
        float alphaT = 1f - sigmaT;
        float lambdaT = lambda(sigmaT);
        float lambdaS0 = lambda(sigmaS0);
        float h = lambdaT - lambdaS0;
        float hh = -h;
        float hPhi1 = expm1(hh);
        float bH = expm1(hh);                                             // bh2

        Tensor corrRes = null;                                            // corr_res: [B, C, F, H, W]
        float rhoLast;
        if (order == 1) {
            rhoLast = 0.5f;                                               // rhos_c = [0.5]
        } else {
            float lambdaS1 = lambda(sigmas[i - 2]);
            float rk = (lambdaS1 - lambdaS0) / h;
            Tensor d1 = previousModelOutput.sub(m0).div(new Scalar(rk));  // D1s[0]: [B, C, F, H, W]
            float hPhiK = hPhi1 / hh - 1f;
            float b1 = hPhiK * 1 / bH;
            hPhiK = hPhiK / hh - 0.5f;
            float b2 = hPhiK * 2 / bH;
            float[] rhosC = solve(rk, b1, b2);
            corrRes = d1.mul(new Scalar(rhosC[0]));
            rhoLast = rhosC[1];
        }
        Tensor xT = x.mul(new Scalar(sigmaT / sigmaS0)).sub(m0.mul(new Scalar(alphaT * hPhi1)));   // x_t_: [B, C, F, H, W]
        Tensor d1T = modelT.sub(m0);                                      // D1_t: [B, C, F, H, W]
        Tensor res = d1T.mul(new Scalar(rhoLast));
        if (corrRes != null) res = corrRes.add(res);
        return xT.sub(res.mul(new Scalar(alphaT * bH))).to(x.scalar_type());
    }

    /**
     * {@code torch.linalg.solve([[1, 1], [r, 1]], [b1, b2])} in float32 the way LAPACK's sgesv does it: LU with
     * partial pivoting (the row with the larger |first element| is the pivot, the first on a tie), then forward and
     * back substitution, each operation rounded to float32.
     */
    static float[] solve(float r, float b1, float b2) {
        if (Math.abs(r) > 1f) {
            float l = 1f / r;            // rows swapped: [r, 1 | b2] is the pivot row
            float u22 = 1f - l;
            float y2 = b1 - l * b2;
            float x2 = y2 / u22;
            float x1 = (b2 - x2) / r;
            return new float[] {x1, x2};
        }
        float u22 = 1f - r;
        float y2 = b2 - r * b1;
        float x2 = y2 / u22;
        float x1 = b1 - x2;
        return new float[] {x1, x2};
    }

    // this_order of step stepIndex: min(solver_order, N − i, lower_order_nums + 1), lower_order_nums = min(i, 2)
    private static int orderOf(int stepIndex, int steps) {
        int lowerOrderNums = Math.min(stepIndex, SOLVER_ORDER);
        return Math.min(Math.min(SOLVER_ORDER, steps - stepIndex), lowerOrderNums + 1);
    }

    // λ(σ) = log(α) − log(σ), α = 1 − σ, float32
    private static float lambda(float sigma) {
        float alpha = 1f - sigma;
        return (float) Math.log(alpha) - (float) Math.log(sigma);
    }

    private static float expm1(float v) { return (float) Math.expm1(v); }

    private static void checkSchedule(int steps, double shift) {
        if (steps < 1)
            throw new IllegalArgumentException("steps must be at least 1, got " + steps);
        if (!(shift > 0) || Double.isInfinite(shift))
            throw new IllegalArgumentException("shift must be a finite positive number (Wan t2v uses 5.0), got " + shift);
    }

    private void requireSchedule() {
        if (sigmas == null) throw new IllegalStateException("call setTimesteps(steps, shift) first");
    }

    private void requireStepLeft() {
        requireSchedule();
        if (stepIndex >= steps)
            throw new IllegalStateException("all " + steps + " steps are done; call setTimesteps or reset to sample again");
    }

    // keeps t beyond the current PointerScope; the scheduler (or a State) releases it later
    private static Tensor keep(Tensor t) {
        t.retainReference();
        return t;
    }

    private static Tensor keepCopy(Tensor t) {
        return t == null ? null : keep(t.clone());
    }

    private static void release(Tensor t) {
        if (t != null) t.releaseReference();
    }
}
