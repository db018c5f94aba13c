// Port of torch/optim/adamw.py (AdamW, single-tensor path, amsgrad off) and torch.nn.utils.clip_grad_norm_.
package dev.kaze.training;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.kaze.tensor.Ops.s;

/**
 * AdamW with decoupled weight decay, as torch.optim.AdamW: per step,
 * p ← p·(1 − lr·wd); m ← lerp(m, g, 1 − β1); v ← β2·v + (1 − β2)·g²;
 * p ← p − lr/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + eps). State is float32 beside each parameter.
 */
public final class AdamW implements LoraOptimizer {
    /** Hyper-parameters; torch's defaults are lr 1e-3, betas 0.9/0.999, eps 1e-8, weight decay 0.01. */
    public record Settings(double lr, double beta1, double beta2, double eps, double weightDecay) {
        public Settings {
            if (!(lr >= 0)) throw new IllegalArgumentException("learning rate must be >= 0, got " + lr);
            if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1))
                throw new IllegalArgumentException("betas must be in [0, 1), got " + beta1 + ", " + beta2);
            if (!(eps >= 0)) throw new IllegalArgumentException("eps must be >= 0, got " + eps);
            if (!(weightDecay >= 0)) throw new IllegalArgumentException("weight decay must be >= 0, got " + weightDecay);
        }

        public static Settings defaults(double lr) { return new Settings(lr, 0.9, 0.999, 1e-8, 0.01); }
    }

    private record State(Tensor param, Tensor expAvg, Tensor expAvgSq) {}

    private final Settings settings;
    private final Map<String, State> state = new LinkedHashMap<>();
    private long step;
    private boolean closed;

    /** An optimizer over these parameters (leaf tensors with requires_grad), by name. */
    public AdamW(Map<String, Tensor> parameters, Settings settings) {
        this.settings = settings;
        try (PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            for (var e : parameters.entrySet()) {
                Tensor p = e.getValue();
                Tensor m = torch.zeros_like(p), v = torch.zeros_like(p);
                p.retainReference(); m.retainReference(); v.retainReference();
                state.put(e.getKey(), new State(p, m, v));
            }
        }
    }

    public Settings settings() { return settings; }

    @Override public String recordedName() { return "torch.optim.adamw.AdamW"; }

    @Override public double stateBytesPerElement() { return 8; }

    /** Steps taken so far. */
    @Override public long steps() { return step; }

    /** The first and second moment of one parameter (for saving state), or null. */
    @Override public Tensor[] moments(String name) {
        State st = state.get(name);
        return st == null ? null : new Tensor[]{st.expAvg, st.expAvgSq};
    }

    /**
     * Puts back a saved state: the step count and, for every parameter, its first and second
     * moment (copied into this optimizer's own tensors; shapes must match).
     */
    @Override public void restore(long steps, Map<String, Tensor[]> moments) {
        if (steps < 0) throw new IllegalArgumentException("optimizer step count must be >= 0, got " + steps);
        try (PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            for (var e : state.entrySet()) {
                Tensor[] m = moments.get(e.getKey());
                if (m == null) throw new IllegalArgumentException("the saved optimizer state has no moments for " + e.getKey());
                e.getValue().expAvg.copy_(m[0]);
                e.getValue().expAvgSq.copy_(m[1]);
            }
        }
        this.step = steps;
    }

    /** One update of every parameter that has a gradient. */
    @Override public void step() {
        step++;
        double lr = settings.lr(), b1 = settings.beta1(), b2 = settings.beta2();
        double biasCorrection1 = 1 - Math.pow(b1, step);
        double biasCorrection2 = 1 - Math.pow(b2, step);
        double stepSize = lr / biasCorrection1;
        double biasCorrection2Sqrt = Math.sqrt(biasCorrection2);
        try (PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            for (State st : state.values()) {
                Tensor grad = st.param.grad();
                if (!grad.defined()) continue;
                st.param.mul_(s(1 - lr * settings.weightDecay()));
                st.expAvg.lerp_(grad, s(1 - b1));
                st.expAvgSq.mul_(s(b2)).addcmul_(grad, grad, s(1 - b2));
                Tensor denom = st.expAvgSq.sqrt().div(s(biasCorrection2Sqrt)).add_(s(settings.eps()));
                st.param.addcdiv_(st.expAvg, denom, s(-stepSize));
            }
        }
    }

    /**
     * torch.nn.utils.clip_grad_norm_: the L2 norm of all gradients together (the norm of the
     * per-tensor norms); every gradient is multiplied by min(1, maxNorm/(norm + 1e-6)). Returns the
     * norm before clipping. maxNorm ≤ 0 only measures.
     */
    public static double clipGradNorm(Iterable<Tensor> parameters, double maxNorm) {
        try (PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            List<Tensor> grads = new ArrayList<>();
            for (Tensor p : parameters) {
                Tensor grad = p.grad();
                if (grad.defined()) grads.add(grad);
            }
            if (grads.isEmpty()) return 0;
            TensorVector norms = new TensorVector();
            for (Tensor grad : grads) norms.push_back(torch.linalg_vector_norm(grad));
            Tensor totalNorm = torch.linalg_vector_norm(torch.stack(norms));            // [] float32
            if (maxNorm > 0) {
                Tensor clipCoef = totalNorm.add(s(1e-6)).reciprocal().mul(s(maxNorm));
                Tensor clamped = clipCoef.clamp_max(s(1.0));
                for (Tensor grad : grads) grad.mul_(clamped);
            }
            return totalNorm.item_double();
        }
    }

    @Override public synchronized void close() {
        if (closed) return;
        closed = true;
        for (State st : state.values()) {
            st.param.releaseReference(); st.expAvg.releaseReference(); st.expAvgSq.releaseReference();
        }
    }
}
