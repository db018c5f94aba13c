package dev.kaze.pipeline.guidance;

/**
 * How the negative prompt steers a denoising step. {@link None} runs one DiT pass per step;
 * {@link Cfg} a second pass with the negative context; {@link Nag} guides inside every
 * cross-attention of the single pass (the LoRA author's recipe, at CFG 1).
 */
public sealed interface Guidance permits Guidance.None, Guidance.Cfg, Nag {
    /** DiT passes per denoising step. */
    int passesPerStep();

    /** No negative guidance. */
    record None() implements Guidance {
        @Override public int passesPerStep() { return 1; }
    }

    /** Classifier-free guidance: v = v_uncond + scale · (v_cond − v_uncond); scale 1 skips the second pass. */
    record Cfg(double scale) implements Guidance {
        public Cfg {
            if (!Double.isFinite(scale) || scale < 0 || scale > 100)
                throw new IllegalArgumentException("guidance scale must be a finite number in [0, 100], got " + scale);
        }

        public boolean active() { return scale != 1.0; }

        @Override public int passesPerStep() { return active() ? 2 : 1; }
    }

    /** The defaults Kaze uses: NAG scale 11, tau 2.5, alpha 0.25 at CFG 1. */
    static Guidance recipeDefault() { return new Nag(11.0, 2.5, 0.25); }
}
