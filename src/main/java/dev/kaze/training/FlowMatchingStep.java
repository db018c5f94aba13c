// Port of musubi-tuner's training step (trainer_base.get_noisy_model_input_and_timesteps with
// timestep_sampling "shift", compute_loss, and the backward / clip / optimizer step of the loop).
package dev.kaze.training;

import dev.kaze.pipeline.dit.WanDit;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.TensorArrayRefOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.util.Arrays;

import static dev.kaze.tensor.Ops.f32;
import static dev.kaze.tensor.Ops.s;

/**
 * One musubi-style LoRA step on a frozen DiT: t = shift·σ(z) / (1 + (shift − 1)·σ(z)); the model
 * sees (1 − t)·x0 + t·noise at timestep t·1000 + 1 and is trained towards noise − x0 with the mean
 * squared error; the LoRA gradients are clipped to a global L2 norm and AdamW takes one step.
 *
 * <p>With gradient checkpointing (musubi's {@code --gradient_checkpointing}, §3.6 of the spec) each
 * DiT block runs forward without autograd, keeping only its input; the backward pass goes block by
 * block from the last, recomputing each block with autograd from its saved input and handing the
 * gradient of that input to the block before. The time/patch embedding and the head run under normal
 * autograd. Same operations on the same values, so the loss and the LoRA gradients equal those
 * without checkpointing, while at most one block's activations are held at a time. A DiT with swapped
 * blocks ({@link WanDit#blocksSwapped}) trains only this way: the blocks stream in for the forward pass
 * and again, from the last, for the backward pass ({@link WanDit#blockBackward}); the copies are exact,
 * so the loss and the gradients are bit-identical to those without swapping.
 *
 * @param shift                 discrete_flow_shift (3.0 in the reference run)
 * @param maxGradNorm           max_grad_norm (1.0; 0 turns clipping off)
 * @param gradientCheckpointing gradient_checkpointing: recompute each block in the backward pass
 */
public record FlowMatchingStep(double shift, double maxGradNorm, boolean gradientCheckpointing) {
    public FlowMatchingStep {
        if (!(shift > 0)) throw new IllegalArgumentException("discrete_flow_shift must be positive, got " + shift);
        if (!(maxGradNorm >= 0)) throw new IllegalArgumentException("max_grad_norm must be >= 0, got " + maxGradNorm);
    }

    /** Without gradient checkpointing. */
    public FlowMatchingStep(double shift, double maxGradNorm) { this(shift, maxGradNorm, false); }

    /** t in (0, 1) from standard-normal draws z [B]: the shifted logit-normal of timestep_sampling "shift", float32. */
    public Tensor sigmas(Tensor z) {
        Tensor t = torch.sigmoid(f32(z));                                          // t: [B]
        return t.mul(s(shift)).div(t.mul(s(shift - 1)).add(s(1)));                 // t: [B]
    }

    /**
     * Forward and backward: accumulates d loss / d LoRA into the LoRA tensors' gradients (zero them
     * first with {@link LoraNetwork#zeroGrad}) and returns the timesteps and the loss; the gradient norm
     * is not measured yet (NaN).
     * x0, noise: [B, C, F, H, W] latents; z: [B] standard-normal draws; context: [B, text_len, C] from
     * {@link WanDit#embedContext}.
     */
    public TrainStepResult lossAndGradients(WanDit base, LoraNetwork lora, Tensor x0, Tensor noise, Tensor z, Tensor context) {
        if (x0.dim() != 5 || !Arrays.equals(x0.sizes().vec().get(), noise.sizes().vec().get()))
            throw new IllegalArgumentException("x0 and noise must both be [B, C, F, H, W] of the same shape");
        if (z.dim() != 1 || z.size(0) != x0.size(0))
            throw new IllegalArgumentException("z must be [B] with B = " + x0.size(0) + " (one draw per sample), got " + z.dim() + "-d");
        try (PointerScope scope = new PointerScope()) {
            WanDit dit = lora.applyTo(base);
            Tensor latents = f32(x0), eps = f32(noise);                                  // [B, C, F, H, W] float32
            Tensor t = sigmas(z);                                                        // t: [B]
            Tensor timesteps = t.mul(s(1000)).add(s(1));                                  // timesteps: [B] float32
            Tensor tb = t.view(-1, 1, 1, 1, 1);                                          // [B, 1, 1, 1, 1]
            Tensor noisy = tb.neg().add(s(1)).mul(latents).add(tb.mul(eps));             // noisy: [B, C, F, H, W]
            Tensor target = eps.sub(latents);                                            // target: [B, C, F, H, W]
            Tensor loss;
            if (base.blocksSwapped() > 0 && !gradientCheckpointing)
                throw new IllegalStateException("training over a DiT with " + base.blocksSwapped() + " swapped blocks needs gradient_checkpointing: true "
                        + "(the swapped blocks stream in again, in reverse order, for the backward pass); turn it on or set blocks_to_swap to 0");
            if (gradientCheckpointing) {
                loss = checkpointedLossBackward(dit, noisy, timesteps, context, target);
            } else {
                Tensor pred = f32(dit.forward(noisy, timesteps, context, null, null));   // pred: [B, C, F, H, W]
                loss = torch.mse_loss(pred, target, 0).mean();                           // [] (reduction "none", then mean)
                loss.backward();
            }
            Tensor ts = timesteps.to(ScalarType.Double).cpu().contiguous();
            double[] steps = new double[(int) ts.numel()];
            for (int i = 0; i < steps.length; i++) steps[i] = ts.get(i).item_double();
            return new TrainStepResult(steps, loss.item_double(), Double.NaN);
        }
    }

    /**
     * The loss of {@link #lossAndGradients} with its backward pass done block by block (see the class
     * comment). Each block's forward and recomputation runs in its own pointer scope, so only the block
     * inputs (one [B, L, C] tensor per block) and the gradient in flight outlive it.
     */
    private static Tensor checkpointedLossBackward(WanDit dit, Tensor noisy, Tensor timesteps, Tensor context, Tensor target) {
        WanDit.Stem stem = dit.stem(noisy, timesteps);                                   // stem.x: [B, L, C]
        int n = dit.blockCount();
        Tensor[] inputs = new Tensor[n + 1];   // inputs[i]: block i's input; inputs[n]: the last block's output; each retained here
        Tensor grad = null;                    // d loss / d inputs[i + 1] while block i is recomputed; retained here
        try {
            inputs[0] = stem.x();
            inputs[0].retainReference();
            for (int i = 0; i < n; i++) {
                try (PointerScope block = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
                    Tensor out = dit.block(i, inputs[i], stem, context);                 // out: [B, L, C]
                    out.retainReference();
                    inputs[i + 1] = out;
                }
            }
            Tensor last = inputs[n].detach().requires_grad_(true);                       // last: [B, L, C]
            Tensor pred = f32(dit.head(last, stem));                                      // pred: [B, C, F, H, W]
            Tensor loss = torch.mse_loss(pred, target, 0).mean();                        // []
            loss.backward();
            grad = last.grad().detach();   // grad: [B, L, C]; grad() is a reference into last, detach() an owned handle
            grad.retainReference();
            for (int i = n - 1; i >= 0; i--) {
                Tensor next = null;
                try (PointerScope block = new PointerScope()) {
                    Tensor in = inputs[i].detach();                                       // in: [B, L, C]
                    boolean upstream = i > 0 || stem.x().requires_grad();
                    if (upstream) in.requires_grad_(true);
                    dit.blockBackward(i, in, stem, context, grad);                        // recompute with autograd, back-propagate
                    if (upstream) {
                        next = in.grad().detach();   // owned: in (and its grad field) is freed with this scope
                        next.retainReference();
                    }
                }
                grad.releaseReference();
                grad = next;
                inputs[i + 1].releaseReference();
                inputs[i + 1] = null;
            }
            if (grad != null) stem.x().backward(grad, new BoolOptional(), false, new TensorArrayRefOptional());   // embedding: normal autograd
            return loss;
        } finally {
            if (grad != null) grad.releaseReference();
            for (Tensor t : inputs) if (t != null) t.releaseReference();
        }
    }

    /** Clips the LoRA gradients (global L2 norm, max_grad_norm) and returns their norm before clipping. */
    public double clip(LoraNetwork lora) {
        return AdamW.clipGradNorm(lora.parameters().values(), maxGradNorm);
    }

    /** The whole step: zero grads, forward/backward, clip, one optimizer step. */
    public TrainStepResult run(WanDit base, LoraNetwork lora, LoraOptimizer optimizer, Tensor x0, Tensor noise, Tensor z, Tensor context) {
        lora.zeroGrad();
        TrainStepResult r = lossAndGradients(base, lora, x0, noise, z, context);
        double norm = clip(lora);
        optimizer.step();
        return new TrainStepResult(r.timesteps(), r.loss(), norm);
    }
}
