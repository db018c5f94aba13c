// Port of wan/text2video.py, WanT2V.generate (the sampling loop).
package dev.kaze.pipeline;

import dev.kaze.pipeline.dit.WanDit;
import dev.kaze.pipeline.guidance.Guidance;
import dev.kaze.pipeline.guidance.Nag;
import dev.kaze.pipeline.preview.LatentRgb;
import dev.kaze.pipeline.preview.PreviewFrames;
import dev.kaze.pipeline.sampling.FlowUniPcScheduler;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.util.function.BooleanSupplier;

import static dev.kaze.tensor.Ops.s;

/**
 * Runs the flow UniPC scheduler with the DiT from given noise. Each step runs in its own
 * PointerScope; only the new latent (and the scheduler's history) outlive it.
 */
public final class DenoisingLoop {
    /** Steps and flow shift; steps 1..100, shift positive and finite. */
    public record Schedule(int steps, double shift) {
        public Schedule {
            if (steps < 1 || steps > 100) throw new IllegalArgumentException("steps must be between 1 and 100, got " + steps);
            if (!Double.isFinite(shift) || shift <= 0 || shift > 100)
                throw new IllegalArgumentException("shift must be a finite number in (0, 100], got " + shift);
        }
    }

    /**
     * Text conditioning, embedded by {@link WanDit#embedContext}: context is the positive prompt;
     * negative the CFG negative prompt (used when the guidance is CFG with scale != 1) and the NAG
     * negative prompt (used when the guidance is NAG). Each [1, text_len, C]; negative may be null
     * when the guidance does not need it.
     */
    public record Conditioning(Tensor context, Tensor negative) {}

    private final WanDit dit;

    public DenoisingLoop(WanDit dit) { this.dit = dit; }

    /**
     * noise: [in_dim, F, H, W] float32 -> denoised latent [in_dim, F, H, W] float32, owned by the
     * caller's current PointerScope (if any).
     */
    public Tensor sample(Tensor noise, Conditioning cond, Guidance guidance, Schedule schedule,
                         StepListener listener, BooleanSupplier cancelRequested) {
        try (FlowUniPcScheduler scheduler = new FlowUniPcScheduler()) {
            scheduler.setTimesteps(schedule.steps(), schedule.shift());
            return run(scheduler, noise, cond, guidance, listener, cancelRequested);
        }
    }

    /** Receives the render's state after a step, to save it (the tensors are valid during the call only). */
    @FunctionalInterface
    public interface Checkpoints {
        Checkpoints NONE = (scheduler, latent, stepsDone) -> {};

        /** latent: [C, F, H, W]; called after stepsDone steps, never after the last. */
        void save(FlowUniPcScheduler scheduler, Tensor latent, int stepsDone);
    }

    /** Continues from the scheduler's current step with the given latent (for resumed renders). */
    public Tensor run(FlowUniPcScheduler scheduler, Tensor start, Conditioning cond, Guidance guidance,
                      StepListener listener, BooleanSupplier cancelRequested) {
        return run(scheduler, start, cond, guidance, listener, cancelRequested, Checkpoints.NONE);
    }

    /** As {@link #run}, offering the state to checkpoints after every step but the last. */
    public Tensor run(FlowUniPcScheduler scheduler, Tensor start, Conditioning cond, Guidance guidance,
                      StepListener listener, BooleanSupplier cancelRequested, Checkpoints checkpoints) {
        boolean needsNegative = guidance instanceof Nag n && n.active()
                || guidance instanceof Guidance.Cfg c && c.active();
        if (needsNegative && cond.negative() == null)
            throw new IllegalArgumentException(guidance + " needs a negative context");
        long[] timesteps = scheduler.timesteps();
        int total = timesteps.length;
        Tensor latent = start.to(ScalarType.Float).unsqueeze(0);           // latent: [1, C, F, H, W]
        latent.retainReference();
        try {
            for (int i = scheduler.stepIndex(); i < total; i++) {
                if (cancelRequested.getAsBoolean()) throw new CancelledException(i);
                long began = System.nanoTime();
                Tensor next;
                PreviewFrames preview = null;
                try (PointerScope step = new PointerScope()) {
                    Tensor t = torch.full(new long[]{1}, s(timesteps[i]), new TensorOptions(ScalarType.Float));  // t: [1]
                    Tensor v = velocity(latent, t, cond, guidance);                                          // v: [1, C, F, H, W]
                    float sigma = scheduler.sigmas()[i];
                    next = scheduler.step(v, latent);
                    next.retainReference();
                    // x0 = x_t − σ_t·v, the clean-video estimate at this step (flow matching)
                    if (listener.wantsPreview(i + 1, total)) preview = LatentRgb.preview(latent.sub(v.mul(s(sigma))));
                }
                latent.releaseReference();
                latent = next;
                listener.onStep(i + 1, total, (System.nanoTime() - began) / 1e9);
                if (preview != null) listener.onPreview(i + 1, total, preview);
                if (i + 1 < total) {
                    try (PointerScope save = new PointerScope()) {
                        checkpoints.save(scheduler, latent.squeeze(0), i + 1);
                    }
                }
            }
            return latent.squeeze(0);                                       // [C, F, H, W], a new handle in the caller's scope
        } finally {
            latent.releaseReference();
        }
    }

    private Tensor velocity(Tensor latent, Tensor t, Conditioning cond, Guidance guidance) {
        return switch (guidance) {
            case Guidance.None none -> dit.forward(latent, t, cond.context(), null, null);
            case Nag nag -> dit.forward(latent, t, cond.context(), nag.active() ? cond.negative() : null, nag);
            case Guidance.Cfg cfg -> {
                Tensor vCond = dit.forward(latent, t, cond.context(), null, null);
                if (!cfg.active()) yield vCond;
                Tensor vUncond = dit.forward(latent, t, cond.negative(), null, null);
                yield vUncond.add(vCond.sub(vUncond).mul(s(cfg.scale())));
            }
        };
    }
}
