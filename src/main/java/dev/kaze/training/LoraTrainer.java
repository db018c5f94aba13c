// Port of musubi-tuner's training loop (trainer_base._run_training_loop, batch size 1, constant LR,
// timestep_sampling "shift"), with seeded per-step randomness so a saved state resumes exactly.
package dev.kaze.training;

import dev.kaze.pipeline.WanModel;
import dev.kaze.pipeline.dit.WanDit;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Generator;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Trains a LoRA on a loaded model's DiT (no LoRA merged) over pre-encoded samples: per step one
 * sample (each epoch visits every sample once, in an order drawn from (seed, epoch)), noise and the
 * timestep draw from a CPU generator seeded with (seed, step), one {@link FlowMatchingStep}, AdamW.
 * Saves the LoRA in musubi's format (bf16) and a {@link TrainingState} every save_every_n_steps and
 * at the end.
 */
public final class LoraTrainer {
    /** What a run ended with: steps done, the last loss and moving average, the LoRA and state written. */
    public record Result(int steps, double loss, double avgLoss, Path lora, Path state, boolean stopped) {}

    private final WanModel model;
    private final TrainingArgs args;
    private final List<TrainingSample> samples;

    public LoraTrainer(WanModel model, TrainingArgs args, List<TrainingSample> samples) {
        if (samples.isEmpty()) throw new IllegalArgumentException("no training samples: the dataset produced no items");
        this.model = model;
        this.args = args;
        this.samples = List.copyOf(samples);
    }

    /** A fresh run from step 0; files go to outputDir. */
    public Result train(Path outputDir, TrainingListener listener) {
        Device device = model.device();
        try (LoraNetwork lora = LoraNetwork.create(model.ditConfig(), args.networkDim(), args.networkAlpha(), args.seed(), device);
             AdamW adamw = new AdamW(lora.parameters(), AdamW.Settings.defaults(args.learningRate()))) {
            return loop(lora, adamw, 0, new ArrayDeque<>(), outputDir, listener);
        }
    }

    /** Continues a run from a state directory it saved (same samples and seed); files go to outputDir. */
    public Result resume(Path stateDir, Path outputDir, TrainingListener listener) {
        TrainingState state = TrainingState.read(stateDir);
        if (state.seed() != args.seed())
            throw new IllegalArgumentException("the state in " + stateDir + " was saved by a run with seed " + state.seed()
                    + ", this run has seed " + args.seed() + "; resume with the same seed");
        if (state.dataOrder().length != samples.size())
            throw new IllegalArgumentException("the state in " + stateDir + " was saved for " + state.dataOrder().length
                    + " samples, this run has " + samples.size() + "; resume with the same dataset");
        try (LoraNetwork lora = TrainingState.readNetwork(stateDir, model.ditConfig(), model.device());
             AdamW adamw = new AdamW(lora.parameters(), AdamW.Settings.defaults(args.learningRate()))) {
            state.restoreOptimizer(stateDir, adamw, lora.parameters().keySet());
            ArrayDeque<Double> recent = new ArrayDeque<>();
            for (double l : state.recentLosses()) recent.add(l);
            return loop(lora, adamw, state.globalStep(), recent, outputDir, listener);
        }
    }

    private Result loop(LoraNetwork lora, AdamW adamw, int startStep, ArrayDeque<Double> recent, Path outputDir, TrainingListener listener) {
        WanDit base = model.dit(List.of());
        FlowMatchingStep flow = new FlowMatchingStep(args.discreteFlowShift(), args.maxGradNorm());
        int n = samples.size();
        double loss = Double.NaN;
        int done = startStep;
        boolean stopped = false;
        Path loraFile = null, stateDir = null;
        while (done < args.maxTrainSteps()) {
            int step = done;
            int epoch = step / n;
            int[] order = dataOrder(args.seed(), epoch, n);
            TrainingSample sample = samples.get(order[step % n]);
            try (PointerScope scope = new PointerScope()) {
                Generator gen = torch.make_generator_cpu();
                gen.set_current_seed(mix(args.seed(), step) & Long.MAX_VALUE);
                TensorOptions f32 = new TensorOptions(ScalarType.Float);
                Tensor x0 = sample.latent().unsqueeze(0).to(model.device(), ScalarType.Float);            // x0: [1, C, F, h, w]
                Tensor noise = torch.randn(x0.sizes().vec().get(), new GeneratorOptional(gen), f32).to(model.device(), ScalarType.Float); // noise: [1, C, F, h, w]
                Tensor z = torch.randn(new long[]{1}, new GeneratorOptional(gen), f32).to(model.device(), ScalarType.Float);              // z: [1]
                Tensor context = base.embedContext(sample.context());                                      // context: [1, text_len, C]
                loss = flow.run(base, lora, adamw, x0, noise, z, context).loss();
            }
            done = step + 1;
            recent.addLast(loss);
            while (recent.size() > n) recent.removeFirst();
            double avg = recent.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
            listener.onStep(done, args.maxTrainSteps(), epoch + 1, loss, avg, args.learningRate());
            stopped = listener.stopRequested() && done < args.maxTrainSteps();
            boolean last = done == args.maxTrainSteps();
            if (!last && args.saveEveryNSteps() > 0 && done % args.saveEveryNSteps() == 0) {
                String stem = args.outputName() + "-step" + String.format("%08d", done);
                loraFile = saveLora(lora, outputDir.resolve(stem + ".safetensors"), done, epoch, listener);
                stateDir = saveState(lora, adamw, outputDir.resolve(stem + "-state"), done, recent, listener);
            }
            if (last || stopped) {
                if (last) loraFile = saveLora(lora, outputDir.resolve(args.outputName() + ".safetensors"), done, epoch, listener);
                stateDir = saveState(lora, adamw, outputDir.resolve(args.outputName() + "-state"), done, recent, listener);
                if (stopped) break;
            }
        }
        double avg = recent.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
        return new Result(done, loss, avg, loraFile, stateDir, stopped);
    }

    private Path saveLora(LoraNetwork lora, Path file, int step, int epoch, TrainingListener listener) {
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("ss_seed", Long.toString(args.seed()));
        meta.put("ss_steps", Integer.toString(step));
        meta.put("ss_epoch", Integer.toString(epoch + 1));
        meta.put("ss_max_train_steps", Integer.toString(args.maxTrainSteps()));
        meta.put("ss_learning_rate", Double.toString(args.learningRate()));
        meta.put("ss_discrete_flow_shift", Double.toString(args.discreteFlowShift()));
        meta.put("ss_max_grad_norm", Double.toString(args.maxGradNorm()));
        meta.put("ss_output_name", args.outputName());
        meta.put("ss_num_train_items", Integer.toString(samples.size()));
        lora.save(file, ScalarType.BFloat16, meta);
        listener.onSaved(file, false);
        return file;
    }

    private Path saveState(LoraNetwork lora, AdamW adamw, Path dir, int done, ArrayDeque<Double> recent, TrainingListener listener) {
        int n = samples.size();
        int nextEpoch = done / n;
        new TrainingState(done, nextEpoch, adamw.steps(), args.seed(), dataOrder(args.seed(), nextEpoch, n),
                recent.stream().mapToDouble(Double::doubleValue).toArray()).save(dir, lora, adamw);
        listener.onSaved(dir, true);
        return dir;
    }

    /** The sample order of one epoch: a Fisher–Yates shuffle drawn from (seed, epoch). */
    static int[] dataOrder(long seed, int epoch, int n) {
        int[] order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        Random r = new Random(mix(seed ^ 0x5DEECE66DL, epoch));
        for (int i = n - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            int t = order[i]; order[i] = order[j]; order[j] = t;
        }
        return order;
    }

    /** SplitMix64 of (seed, index): independent-looking seeds for each step or epoch. */
    static long mix(long seed, long index) {
        long z = seed + 0x9E3779B97F4A7C15L * (index + 1);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
