// Port of musubi-tuner's training loop (trainer_base._run_training_loop, batch size 1, constant LR,
// timestep_sampling "shift"), with seeded per-step randomness so a saved state resumes exactly.
package dev.kaze.training;

import dev.kaze.pipeline.WanModel;
import dev.kaze.pipeline.dit.DitConfig;
import dev.kaze.pipeline.dit.DitOptions;
import dev.kaze.pipeline.dit.WanDit;
import dev.kaze.tensor.Linear;
import dev.kaze.tensor.WeightStorage;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Generator;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Trains a LoRA on a loaded model's DiT (no LoRA merged) over pre-encoded samples: per step one
 * sample (each epoch visits every sample once, in an order drawn from (seed, epoch)), noise and the
 * timestep draw from a CPU generator seeded with (seed, step), one {@link FlowMatchingStep} (with
 * gradient checkpointing when asked), AdamW (or bitsandbytes' AdamW8bit for optimizer_type adamw8bit, {@link AdamW8bit}). An epoch is one pass over the samples (batch size 1), so
 * max_train_epochs becomes epochs × samples steps.
 *
 * <p>Files in the output directory, named as musubi names them:
 * {@code {output_name}.safetensors} at the end; {@code {output_name}-{epoch:06d}.safetensors} every
 * save_every_n_epochs epochs but the last; {@code {output_name}-step{step:08d}.safetensors} every
 * save_every_n_steps steps; a state directory ({@code …-state}, see {@link TrainingState}) beside
 * each when save_state is on, and {@code {output_name}-state} whenever a stop is requested;
 * {@code {output_name}.log.jsonl} (one line per step, see {@link TrainingLog}); {@code {output_name}-loss.png}
 * (the loss curve, rewritten at every save and at the end); {@code sample/} (see {@link TrainingSampler}).
 * The LoRA carries musubi's {@code ss_*} metadata (§4.4 of the spec) for what this trainer knows;
 * the caller adds the dataset's ({@code ss_datasets}, {@code ss_sd_model_name}, …) through
 * {@link #LoraTrainer(WanModel, TrainingArgs, List, Map)}.
 *
 * <p>The DiT it trains over ({@link #ditOptions()}): the model's compute dtype, its block Linears stored as
 * fp8_base/fp8_scaled ask (else as the server stores them), and blocks_to_swap blocks swapped ("auto": the fewest
 * whose {@link TrainingMemoryPlan} peak fits the model's device memory budget for every bucket of the samples).
 * When these are the served DiT's options the served DiT is used; otherwise one is built for the run from the
 * model's base weights and freed at its end ({@link WanModel#trainingDit}).
 */
public final class LoraTrainer {
    /** What a run ended with: steps done, the last loss and moving average, the LoRA and state written. */
    public record Result(int steps, double loss, double avgLoss, Path lora, Path state, boolean stopped, TrainedDit dit) {}

    /**
     * The DiT a run trained over, read from the DiT itself: its block Linears' storage (e.g. "float8_e4m3fn, block-wise
     * scales (64 columns)", or "float32"), how many blocks it swapped, and whether it was built for the run.
     */
    public record TrainedDit(String storage, int blocksSwapped, boolean separate) {}

    private final WanModel model;
    private final TrainingArgs args;
    private final List<TrainingSample> samples;
    private final Map<String, String> metadata;
    private final List<TrainingSample> validationSamples;

    public LoraTrainer(WanModel model, TrainingArgs args, List<TrainingSample> samples) {
        this(model, args, samples, Map.of());
    }

    /**
     * metadata: extra LoRA metadata from the caller (e.g. {@code ss_datasets}, {@code ss_num_train_items}
     * with repeats, {@code ss_sd_model_name}, {@code ss_vae_name}, {@code ss_training_comment}); it overrides
     * the trainer's own keys.
     */
    public LoraTrainer(WanModel model, TrainingArgs args, List<TrainingSample> samples, Map<String, String> metadata) {
        this(model, args, samples, List.of(), metadata);
    }

    /**
     * With held-out samples whose {@link ValidationLoss} is measured every validate_every_n_steps steps and at the end
     * of every validate_every_n_epochs epochs (logged, charted and reported through {@link TrainingListener#onValidation}).
     */
    public LoraTrainer(WanModel model, TrainingArgs args, List<TrainingSample> samples, List<TrainingSample> validationSamples,
                       Map<String, String> metadata) {
        if (samples.isEmpty()) throw new IllegalArgumentException("no training samples: the dataset produced no items");
        this.model = model;
        this.args = args;
        this.samples = List.copyOf(samples);
        this.validationSamples = List.copyOf(validationSamples);
        this.metadata = Map.copyOf(metadata);
        args.totalSteps(samples.size());   // fails early when epochs × samples is too many steps
    }

    /**
     * The options of the DiT this run trains over: the model's compute dtype and (unless fp8_base asks for float8) its
     * block Linear storage, with blocks_to_swap resolved ({@link #blocksToSwap()}).
     */
    public DitOptions ditOptions() {
        DitOptions served = model.ditOptions();
        WeightStorage fp8 = args.fp8Storage();
        return served.withStorage(fp8 != null ? fp8 : served.storage()).withBlocksToSwap(blocksToSwap());
    }

    /**
     * The blocks to swap: blocks_to_swap as asked, or for auto the fewest whose planned peak
     * ({@link TrainingMemoryPlan#fewestBlocksToSwap}) fits the model's device memory budget for every bucket of the samples.
     *
     * @throws TrainingArgsException when the count is more than the model allows, or no count fits the budget
     */
    public int blocksToSwap() {
        DitConfig cfg = model.ditConfig();
        int max = Math.max(1, cfg.numLayers() - 1);   // musubi's bound; a one-block model (the preview) may swap its block
        if (!args.autoSwap()) {
            if (args.blocksToSwap() > max)
                throw new TrainingArgsException(List.of(new TrainingArgsException.Problem("blocks_to_swap", "is " + args.blocksToSwap()
                        + "; this model has " + cfg.numLayers() + " blocks, so at most " + max + " can be swapped")));
            return args.blocksToSwap();
        }
        int n = TrainingMemoryPlan.fewestBlocksToSwap(cfg, buckets(), args.fp8Base(), args.networkDim(), optimizerStateBytes(),
                args.gradientCheckpointing(), model.options().memoryBudgetBytes());
        if (n < 0)
            throw new TrainingArgsException(List.of(new TrainingArgsException.Problem("blocks_to_swap", "auto: no block count fits "
                    + String.format("%.1f", TrainingMemoryPlan.gib(model.options().memoryBudgetBytes()))
                    + " GiB (kaze.device-memory-budget) for the largest bucket " + largest() + "; train smaller buckets, use fp8_base, "
                    + "or raise the budget")));
        return n;
    }

    /** What the run's memory options resolve to on this model, for the job's record (empty when nothing is resolved at run time). */
    public List<String> notes() {
        List<String> notes = new ArrayList<>();
        if (args.autoSwap()) {
            int n = blocksToSwap();
            TrainingMemoryPlan plan = new TrainingMemoryPlan(model.ditConfig(), largest(), args.fp8Base(), n, args.networkDim(),
                    optimizerStateBytes(), args.gradientCheckpointing());
            notes.add("blocks_to_swap auto: " + n + " blocks swapped (streamed from host memory, forward and backward); planned peak "
                    + String.format("%.2f", TrainingMemoryPlan.gib(plan.peakBytes())) + " GiB for the largest bucket " + largest()
                    + " against a budget of " + String.format("%.1f", TrainingMemoryPlan.gib(model.options().memoryBudgetBytes())) + " GiB");
        }
        DitOptions served = model.ditOptions();
        if (args.fp8Storage() == null && served.storage().isFloat8())
            notes.add("fp8_base is off, but the server keeps the DiT's block Linears as float8 (kaze.dit.storage); the run trains over that storage");
        return notes;
    }

    /** The buckets of the samples: their latents' sizes as pixel sizes and frame counts. */
    private List<TrainingMemoryPlan.Bucket> buckets() {
        Set<TrainingMemoryPlan.Bucket> out = new LinkedHashSet<>();
        try (PointerScope scope = new PointerScope()) {
            for (TrainingSample s : samples) {
                long[] shape = s.latent().sizes().vec().get();   // [C, F, h, w]
                out.add(new TrainingMemoryPlan.Bucket((int) shape[3] * TrainingMemoryPlan.SPATIAL_STRIDE,
                        (int) shape[2] * TrainingMemoryPlan.SPATIAL_STRIDE, (int) (shape[1] - 1) * TrainingMemoryPlan.TEMPORAL_STRIDE + 1));
            }
        }
        return List.copyOf(out);
    }

    /** The bucket with the most tokens. */
    private TrainingMemoryPlan.Bucket largest() {
        return buckets().stream().max(Comparator.comparingLong(b -> (long) b.width() * b.height() * b.frames())).orElseThrow();
    }

    /** Optimizer state bytes per LoRA element: AdamW's 8, AdamW8bit's 2 plus its two absmax floats per block. */
    private double optimizerStateBytes() {
        return args.adamw8bitRequested() ? AdamW8bit.STATE_BYTES_PER_ELEMENT : TrainingMemoryPlan.ADAMW_STATE_BYTES;
    }

    /** Optimizer steps of the whole run (max_train_epochs × samples when epochs are set, else max_train_steps). */
    public int totalSteps() { return args.totalSteps(samples.size()); }

    /** Epochs of the whole run. */
    public int totalEpochs() { return args.totalEpochs(samples.size()); }

    /** A fresh run from step 0; files go to outputDir. */
    public Result train(Path outputDir, TrainingListener listener) {
        Device device = model.device();
        try (LoraNetwork lora = LoraNetwork.create(model.ditConfig(), args.networkDim(), args.networkAlpha(), args.seed(), device);
             LoraOptimizer adamw = LoraOptimizer.of(args.optimizerType(), lora.parameters(), AdamW.Settings.defaults(args.learningRate()))) {
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
             LoraOptimizer adamw = LoraOptimizer.of(args.optimizerType(), lora.parameters(), AdamW.Settings.defaults(args.learningRate()))) {
            state.restoreOptimizer(stateDir, adamw, lora.parameters().keySet());
            ArrayDeque<Double> recent = new ArrayDeque<>();
            for (double l : state.recentLosses()) recent.add(l);
            return loop(lora, adamw, state.globalStep(), recent, outputDir, listener);
        }
    }

    private Result loop(LoraNetwork lora, LoraOptimizer adamw, int startStep, ArrayDeque<Double> recent, Path outputDir, TrainingListener listener) {
        try {
            Files.createDirectories(outputDir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the output directory " + outputDir + ": " + e.getMessage(), e);
        }
        try (WanModel.TrainingDit dit = model.trainingDit(ditOptions())) {
            return loop(dit, lora, adamw, startStep, recent, outputDir, listener);
        }
    }

    private Result loop(WanModel.TrainingDit dit, LoraNetwork lora, LoraOptimizer adamw, int startStep, ArrayDeque<Double> recent,
                        Path outputDir, TrainingListener listener) {
        WanDit base = dit.dit();
        FlowMatchingStep flow = new FlowMatchingStep(args.discreteFlowShift(), args.maxGradNorm(), args.gradientCheckpointing());
        int n = samples.size(), total = totalSteps(), epochs = totalEpochs();
        Run run = new Run(lora, adamw, outputDir, listener, new TrainingLog(outputDir.resolve(args.outputName() + ".log.jsonl"), startStep),
                ThreadLocalRandom.current().nextLong(0, 1L << 31), Instant.now().getEpochSecond());
        boolean sampling = !args.samplePrompts().isEmpty()
                && (args.sampleAtFirst() || args.sampleEveryNSteps() > 0 || args.sampleEveryNEpochs() > 0);
        ValidationLoss validation = args.validates() && !validationSamples.isEmpty()
                ? new ValidationLoss(validationSamples, args.seed(), model.device()) : null;
        double loss = Double.NaN;
        int done = startStep;
        boolean stopped = false;
        Path loraFile = null, stateDir = null;
        try (TrainingSampler sampler = sampling ? new TrainingSampler(model, args.parsedSamplePrompts(),
                outputDir.resolve("sample"), args.outputName(), args.seed()) : null) {
            if (sampler != null && startStep == 0 && args.sampleAtFirst()) sample(sampler, base, run, 0, 0);
            while (done < total) {
                int step = done;
                int epoch = step / n;
                int[] order = dataOrder(args.seed(), epoch, n);
                TrainingSample sample = samples.get(order[step % n]);
                long began = System.nanoTime();
                TrainStepResult r;
                try (PointerScope scope = new PointerScope()) {
                    Generator gen = torch.make_generator_cpu();
                    gen.set_current_seed(mix(args.seed(), step) & Long.MAX_VALUE);
                    TensorOptions f32 = new TensorOptions(ScalarType.Float);
                    Tensor x0 = sample.latent().unsqueeze(0).to(model.device(), ScalarType.Float);            // x0: [1, C, F, h, w]
                    Tensor noise = torch.randn(x0.sizes().vec().get(), new GeneratorOptional(gen), f32).to(model.device(), ScalarType.Float); // noise: [1, C, F, h, w]
                    Tensor z = torch.randn(new long[]{1}, new GeneratorOptional(gen), f32).to(model.device(), ScalarType.Float);              // z: [1]
                    Tensor context = base.embedContext(sample.context());                                      // context: [1, text_len, C]
                    r = flow.run(base, lora, adamw, x0, noise, z, context);
                }
                loss = r.loss();
                done = step + 1;
                recent.addLast(loss);
                while (recent.size() > n) recent.removeFirst();
                double avg = recent.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
                run.log.append(new TrainingLog.Entry(done, epoch + 1, loss, avg, args.learningRate(), r.timesteps()[0], r.gradNorm(),
                        (System.nanoTime() - began) / 1e9));
                listener.onStep(done, total, epoch + 1, loss, avg, args.learningRate());
                stopped = listener.stopRequested() && done < total;
                boolean last = done == total;
                boolean epochEnd = done % n == 0 || last;
                int epochNo = epoch + 1;
                // within the step: step-based sampling and saves
                boolean sampledByStep = sampler != null && args.sampleEveryNSteps() > 0 && done % args.sampleEveryNSteps() == 0;
                if (sampledByStep) sample(sampler, base, run, done, -1);
                if (!last && args.saveEveryNSteps() > 0 && done % args.saveEveryNSteps() == 0) {
                    String stem = args.outputName() + "-step" + String.format("%08d", done);
                    loraFile = saveLora(run, outputDir.resolve(stem + ".safetensors"), done, epochNo);
                    if (args.saveState()) stateDir = saveState(run, outputDir.resolve(stem + "-state"), done, recent);
                    chart(run);
                }
                // at the end of an epoch: epoch-based saves (not after the last epoch, whose LoRA is the final one) and sampling
                if (epochEnd && !last && args.saveEveryNEpochs() > 0 && epochNo % args.saveEveryNEpochs() == 0) {
                    String stem = args.outputName() + "-" + String.format("%06d", epochNo);
                    loraFile = saveLora(run, outputDir.resolve(stem + ".safetensors"), done, epochNo);
                    if (args.saveState()) stateDir = saveState(run, outputDir.resolve(stem + "-state"), done, recent);
                    chart(run);
                }
                // (musubi's epoch-end call also fires on a step-based match, sampling the same step twice; Kaze samples it once)
                if (sampler != null && epochEnd && !sampledByStep && args.sampleEveryNEpochs() > 0 && epochNo % args.sampleEveryNEpochs() == 0)
                    sample(sampler, base, run, done, epochNo);
                if (epochEnd && done % n == 0) run.log.appendEpoch(epochNo, avg);   // musubi's loss/epoch
                if (validation != null && ((args.validateEveryNSteps() > 0 && done % args.validateEveryNSteps() == 0)
                        || (epochEnd && args.validateEveryNEpochs() > 0 && epochNo % args.validateEveryNEpochs() == 0))) {
                    double vl = validation.measure(base, lora);
                    run.log.appendValidation(new TrainingLog.Validation(done, epochNo, vl));
                    listener.onValidation(done, epochNo, vl);
                }
                if (last || stopped) {
                    if (last) loraFile = saveLora(run, outputDir.resolve(args.outputName() + ".safetensors"), done, epochs);
                    if (stopped || args.saveState()) stateDir = saveState(run, outputDir.resolve(args.outputName() + "-state"), done, recent);
                    chart(run);
                    if (stopped) break;
                }
            }
        }
        double avg = recent.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
        return new Result(done, loss, avg, loraFile, stateDir, stopped, new TrainedDit(storage(base, model.ditConfig().numLayers()), base.blocksSwapped(), dit.separate()));
    }

    /** The block Linears of one DiT block, as {@link WanDit#blockLinear} names them. */
    private static final List<String> BLOCK_LINEARS = List.of("self_attn.q", "self_attn.k", "self_attn.v", "self_attn.o",
            "cross_attn.q", "cross_attn.k", "cross_attn.v", "cross_attn.o", "ffn.0", "ffn.2");

    /**
     * How the DiT keeps its block Linear weights, read from them: "compute dtype", or the float8 format and how many
     * Linears have each scale layout (a weight whose input size is not a multiple of the block keeps a per-tensor scale).
     */
    static String storage(WanDit dit, int numLayers) {
        Map<String, Integer> layouts = new LinkedHashMap<>();
        String format = null;
        for (int i = 0; i < numLayers; i++)
            for (String name : BLOCK_LINEARS) {
                Linear l = dit.blockLinear("blocks." + i + "." + name + ".weight");
                if (l == null || !l.isFloat8()) continue;
                format = l.quantized().scalar_type().toString().toLowerCase(Locale.ROOT);
                String layout = switch (l.storage().scaling()) {
                    case WeightStorage.Scaling.Blockwise b -> "block-wise scales (" + b.blockSize() + " columns)";
                    case WeightStorage.Scaling.PerTensor p -> "per-tensor scale";
                };
                layouts.merge(layout, 1, Integer::sum);
            }
        if (format == null) return "compute dtype";
        StringBuilder out = new StringBuilder(format);
        String sep = ": ";
        for (var e : layouts.entrySet()) {
            out.append(sep).append(e.getValue()).append(" with ").append(e.getKey());
            sep = ", ";
        }
        return out.toString();
    }

    /** What one run's saves share. */
    private record Run(LoraNetwork lora, LoraOptimizer adamw, Path outputDir, TrainingListener listener, TrainingLog log,
                       long sessionId, long startedAt) {}

    private void sample(TrainingSampler sampler, WanDit base, Run run, int step, int epoch) {
        for (Path file : sampler.sample(base, run.lora, step, epoch)) run.listener.onSample(file, step, epoch >= 0 ? epoch : (step - 1) / samples.size() + 1);
    }

    private void chart(Run run) {
        LossChart.write(run.log.entries(), run.log.validations(), args.outputName() + ": loss per step",
                run.outputDir.resolve(args.outputName() + "-loss.png"));
    }

    private Path saveLora(Run run, Path file, int step, int epoch) {
        run.lora.save(file, args.saveDtype(), loraMetadata(run, step, epoch));
        run.listener.onSaved(file, false);
        return file;
    }

    /** musubi's training metadata (trainer_base._run_training_loop), values as Python's str() writes them. */
    Map<String, String> loraMetadata(Run run, int step, int epoch) {
        int n = samples.size();
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("ss_session_id", Long.toString(run.sessionId));
        meta.put("ss_training_started_at", Long.toString(run.startedAt));
        meta.put("ss_output_name", args.outputName());
        meta.put("ss_learning_rate", py(args.learningRate()));
        meta.put("ss_num_train_items", Integer.toString(n));
        meta.put("ss_num_batches_per_epoch", Integer.toString(n));
        meta.put("ss_num_epochs", Integer.toString(totalEpochs()));
        meta.put("ss_gradient_checkpointing", py(args.gradientCheckpointing()));
        meta.put("ss_gradient_checkpointing_cpu_offload", "False");
        meta.put("ss_gradient_accumulation_steps", "1");
        meta.put("ss_max_train_steps", Integer.toString(totalSteps()));
        meta.put("ss_lr_warmup_steps", "0");
        meta.put("ss_lr_scheduler", args.lrScheduler());
        meta.put("ss_base_model_version", "wan");
        meta.put("ss_network_module", args.networkModule());
        meta.put("ss_network_dim", Integer.toString(args.networkDim()));
        meta.put("ss_network_alpha", py(args.networkAlpha() > 0 ? args.networkAlpha() : args.networkDim()));
        meta.put("ss_network_dropout", "None");
        meta.put("ss_mixed_precision", args.mixedPrecision());
        meta.put("ss_seed", Long.toString(args.seed()));
        meta.put("ss_training_comment", "None");
        meta.put("ss_optimizer", run.adamw.recordedName());
        meta.put("ss_max_grad_norm", py(args.maxGradNorm()));
        meta.put("ss_fp8_base", py(args.fp8Base()));   // as musubi records str(args.fp8_base); the run's DiT is stored so
        meta.put("ss_fp8_scaled", py(args.fp8Scaled()));
        meta.put("ss_full_fp16", "False");
        meta.put("ss_full_bf16", "False");
        meta.put("ss_weighting_scheme", "none");
        meta.put("ss_logit_mean", "0.0");
        meta.put("ss_logit_std", "1.0");
        meta.put("ss_mode_scale", "1.29");
        meta.put("ss_guidance_scale", "1.0");
        meta.put("ss_timestep_sampling", args.timestepSampling());
        meta.put("ss_sigmoid_scale", "1.0");
        meta.put("ss_discrete_flow_shift", py(args.discreteFlowShift()));
        meta.put("ss_training_finished_at", Long.toString(Instant.now().getEpochSecond()));
        meta.put("ss_steps", Integer.toString(step));
        meta.put("ss_epoch", Integer.toString(epoch));
        meta.put("modelspec.title", args.outputName());
        meta.put("modelspec.date", DateTimeFormatter.ISO_LOCAL_DATE_TIME.format(Instant.now().atOffset(ZoneOffset.UTC).withNano(0)));
        meta.putAll(args.modelMetadata());   // training_comment, metadata_title, ...
        meta.putAll(metadata);
        return meta;
    }

    private Path saveState(Run run, Path dir, int done, ArrayDeque<Double> recent) {
        int n = samples.size();
        int nextEpoch = done / n;
        new TrainingState(done, nextEpoch, run.adamw.steps(), args.seed(), dataOrder(args.seed(), nextEpoch, n),
                recent.stream().mapToDouble(Double::doubleValue).toArray()).save(dir, run.lora, run.adamw);
        run.listener.onSaved(dir, true);
        return dir;
    }

    /** Python's str() of a bool. */
    static String py(boolean b) { return b ? "True" : "False"; }

    /** Python's str() of a float: shortest round-trip digits, positional for 1e-4 ≤ |x| < 1e16, else d.ddde±XX. */
    static String py(double x) {
        if (Double.isNaN(x)) return "nan";
        if (Double.isInfinite(x)) return x > 0 ? "inf" : "-inf";
        if (x == 0) return (1 / x < 0) ? "-0.0" : "0.0";
        BigDecimal d = new BigDecimal(Double.toString(Math.abs(x))).stripTrailingZeros();
        String digits = d.unscaledValue().toString();
        int exp = digits.length() - d.scale() - 1;   // x = d.ddd × 10^exp
        String sign = x < 0 ? "-" : "";
        if (exp >= -4 && exp < 16) {
            String plain = d.toPlainString();
            return sign + (plain.contains(".") ? plain : plain + ".0");
        }
        String mantissa = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
        return sign + mantissa + "e" + (exp < 0 ? "-" : "+") + String.format("%02d", Math.abs(exp));
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
