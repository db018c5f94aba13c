package dev.kaze.training;

import dev.kaze.pipeline.dit.WanDit;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Generator;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.util.List;

import static dev.kaze.tensor.Ops.f32;
import static dev.kaze.tensor.Ops.s;

/**
 * The loss on held-out samples (the dataset config's {@code validation = true} datasets) with the LoRA as it is,
 * measured so that two measurements differ only because the weights did: every sample is noised at the same
 * fixed flow-matching times t ∈ {@link #TIMES} (no shift, no random draw) with noise drawn from a generator seeded
 * by (seed, sample, time), and the DiT runs forward without autograd. The value is the mean over samples and
 * times of the training objective, mean((model((1 − t)·x0 + t·noise, 1000·t + 1) − (noise − x0))²).
 */
final class ValidationLoss {
    /** The flow-matching times every validation sample is measured at. */
    static final double[] TIMES = {0.1, 0.3, 0.5, 0.7, 0.9};

    private final List<TrainingSample> samples;
    private final long seed;
    private final Device device;

    ValidationLoss(List<TrainingSample> samples, long seed, Device device) {
        if (samples.isEmpty()) throw new IllegalArgumentException("validation needs at least one sample");
        this.samples = List.copyOf(samples);
        this.seed = seed;
        this.device = device;
    }

    int sampleCount() { return samples.size(); }

    /** The validation loss of base with lora applied. */
    double measure(WanDit base, LoraNetwork lora) {
        double sum = 0;
        int n = 0;
        try (PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            WanDit dit = lora.applyTo(base);
            for (int i = 0; i < samples.size(); i++) {
                TrainingSample sample = samples.get(i);
                for (int j = 0; j < TIMES.length; j++) {
                    try (PointerScope step = new PointerScope()) {
                        Generator gen = torch.make_generator_cpu();
                        gen.set_current_seed(LoraTrainer.mix(seed ^ 0x56414C49444154L, (long) i * TIMES.length + j) & Long.MAX_VALUE);
                        Tensor x0 = sample.latent().unsqueeze(0).to(device, ScalarType.Float);                   // x0: [1, C, F, h, w]
                        Tensor noise = torch.randn(x0.sizes().vec().get(), new GeneratorOptional(gen),
                                new TensorOptions(ScalarType.Float)).to(device, ScalarType.Float);                // noise: [1, C, F, h, w]
                        double t = TIMES[j];
                        Tensor noisy = x0.mul(s(1 - t)).add(noise.mul(s(t)));                                    // noisy: [1, C, F, h, w]
                        Tensor timesteps = torch.full(new long[]{1}, s(t * 1000 + 1), new TensorOptions(ScalarType.Float)).to(device, ScalarType.Float); // [1]
                        Tensor context = base.embedContext(sample.context());                                 // context: [1, text_len, C]
                        Tensor pred = f32(dit.forward(noisy, timesteps, context, null, null));                // pred: [1, C, F, h, w]
                        sum += torch.mse_loss(pred, noise.sub(x0), 0).mean().item_double();
                        n++;
                    }
                }
            }
        }
        return sum / n;
    }
}
