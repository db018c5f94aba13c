package dev.kaze.parity;

import dev.kaze.pipeline.DenoisingLoop;
import dev.kaze.pipeline.dit.WanDit;
import dev.kaze.pipeline.guidance.Guidance;
import dev.kaze.pipeline.guidance.Nag;
import dev.kaze.tensor.Checkpoint;
import org.bytedeco.pytorch.Tensor;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Kind sample: the whole denoising loop from noise (UniPC), with CFG on the negative context, or
 * with NAG at guide scale 1, optionally on a LoRA-merged DiT.
 */
class SampleKind implements ParityKind {
    @Override public void check(ParityCase c) {
        try (Checkpoint ckpt = Checkpoint.open(c.fixture("weights"));
             LoraForwardKind.Merged merged = LoraForwardKind.withLoras(c, ckpt);
             WanDit dit = DitForwardKind.load(c, merged.source(), ckpt)) {
            List<Integer> steps = new ArrayList<>();
            Tensor out = sample(c, dit, (step, total, seconds) -> steps.add(step), () -> false);
            c.assertClose(c.name(), out, c.tensor("expected"));
            assertThat(steps).hasSize(c.integer("steps"));
        }
    }

    static Tensor sample(ParityCase c, WanDit dit, dev.kaze.pipeline.StepListener listener, java.util.function.BooleanSupplier cancel) {
        Nag nag = DitForwardKind.nag(c);
        double guideScale = c.number("guide_scale", 1.0);
        Guidance guidance = nag != null ? nag : new Guidance.Cfg(guideScale);
        if (nag != null) assertThat(guideScale).as("NAG cases run at guide scale 1").isEqualTo(1.0);
        Tensor context = dit.embedContext(c.tensor("context"));
        Tensor negative = c.has("negative_context") ? dit.embedContext(c.tensor("negative_context")) : null;
        return new DenoisingLoop(dit).sample(c.tensor("noise"), new DenoisingLoop.Conditioning(context, negative), guidance,
                new DenoisingLoop.Schedule(c.integer("steps"), c.number("shift", 5.0)), listener, cancel);
    }
}
