package dev.kaze.training;

import dev.kaze.tensor.WeightStorage;
import org.bytedeco.pytorch.global.torch.ScalarType;
import tools.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.BiConsumer;

/**
 * The options of one LoRA run, named after musubi-tuner's command-line options (a JSON object with
 * these snake_case keys is read by {@link #fromJson}). Batch size 1, one parameter group, AdamW with
 * torch's defaults (betas 0.9/0.999, eps 1e-8, weight_decay 0.01), the constant LR schedule,
 * timestep_sampling "shift".
 *
 * <p>Choices musubi offers that Kaze does not run are refused with a message. {@code optimizer_type adamw8bit}
 * runs bitsandbytes' block-wise 8-bit AdamW ({@link AdamW8bit}); {@code fp8_base}, {@code fp8_scaled} and
 * {@code blocks_to_swap} give the run a DiT built for it with that weight storage and block swap (see
 * {@link LoraTrainer}); {@link #notes()} says what each of them did.
 *
 * @param networkDim            network_dim: LoRA rank (32)
 * @param networkAlpha          network_alpha (32); ≤ 0 means alpha = rank
 * @param learningRate          learning_rate (5e-5)
 * @param maxTrainSteps         max_train_steps (1600), used when max_train_epochs is 0
 * @param maxTrainEpochs        max_train_epochs (0: unset); overrides max_train_steps, as in musubi
 * @param seed                  seed (2025): LoRA init, data order, noise and timesteps derive from it
 * @param discreteFlowShift     discrete_flow_shift (3.0)
 * @param maxGradNorm           max_grad_norm (1.0; 0 turns clipping off)
 * @param saveEveryNSteps       save_every_n_steps (0: never): {@code {output_name}-step{step:08d}.safetensors}
 * @param saveEveryNEpochs      save_every_n_epochs (0: never): {@code {output_name}-{epoch:06d}.safetensors}, not after the last epoch
 * @param sampleEveryNSteps     sample_every_n_steps (0: never)
 * @param sampleEveryNEpochs    sample_every_n_epochs (0: never)
 * @param sampleAtFirst         sample_at_first: sample before the first step
 * @param samplePrompts         sample_prompts: musubi prompt lines ({@link SamplePrompt})
 * @param gradientCheckpointing gradient_checkpointing (true)
 * @param outputName            output_name ("lora"): file stem of every output
 * @param timestepSampling      timestep_sampling: "shift" only
 * @param optimizerType         optimizer_type: "adamw" (default) or "adamw8bit" (bitsandbytes' AdamW8bit), any case
 * @param lrScheduler           lr_scheduler: "constant" only
 * @param saveState             save_state (true): a state directory beside every saved LoRA
 * @param mixedPrecision        mixed_precision: "bf16" (default) or "no"; the compute dtype is the loaded model's
 *                              (bfloat16 on CUDA, float32 on the CPU)
 * @param networkModule         network_module: "networks.lora_wan" only
 * @param savePrecision         save_precision: "bf16" (default, musubi 2025-03), "float"/"fp32" or "fp16"
 * @param blocksToSwap          blocks_to_swap (0..39, or {@link #AUTO_SWAP} for "auto": the fewest that fit the device memory
 *                              budget); more than 0 (or auto) needs gradient_checkpointing
 * @param fp8Base               fp8_base: the DiT's block Linears stored as float8 e4m3 (per-tensor scale)
 * @param fp8Scaled             fp8_scaled (needs fp8_base): block-wise scales, one per {@value #FP8_BLOCK} columns
 * @param validateEveryNSteps   validate_every_n_steps (Kaze's; 0: never): the validation loss every this many steps
 * @param validateEveryNEpochs  validate_every_n_epochs (Kaze's; 0: never): the validation loss at the end of every this many epochs
 * @param modelMetadata         training_comment and metadata_title/author/description/license/tags, as the LoRA's
 *                              {@code ss_training_comment} and {@code modelspec.*} keys
 */
public record TrainingArgs(int networkDim, double networkAlpha, double learningRate, int maxTrainSteps, int maxTrainEpochs,
                           long seed, double discreteFlowShift, double maxGradNorm,
                           int saveEveryNSteps, int saveEveryNEpochs, int sampleEveryNSteps, int sampleEveryNEpochs,
                           boolean sampleAtFirst, List<String> samplePrompts, boolean gradientCheckpointing, String outputName,
                           String timestepSampling, String optimizerType, String lrScheduler, boolean saveState,
                           String mixedPrecision, String networkModule, String savePrecision, int blocksToSwap,
                           boolean fp8Base, boolean fp8Scaled, int validateEveryNSteps, int validateEveryNEpochs,
                           Map<String, String> modelMetadata) {
    public static final int MAX_STEPS = 10_000_000, MAX_EPOCHS = 100_000, MAX_DIM = 1024, MAX_SAMPLE_PROMPTS = 64;
    /** blocks_to_swap "auto": the run picks the fewest blocks whose planned peak fits the device memory budget. */
    public static final int AUTO_SWAP = -1;
    /** Columns per scale of fp8_scaled storage (musubi's block-wise float8 e4m3). */
    public static final int FP8_BLOCK = 64;

    public TrainingArgs {
        samplePrompts = samplePrompts == null ? List.of() : List.copyOf(samplePrompts);
        modelMetadata = modelMetadata == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(modelMetadata));
        List<TrainingArgsException.Problem> problems = check(networkDim, networkAlpha, learningRate, maxTrainSteps, maxTrainEpochs,
                seed, discreteFlowShift, maxGradNorm, saveEveryNSteps, saveEveryNEpochs, sampleEveryNSteps, sampleEveryNEpochs,
                samplePrompts, outputName, timestepSampling, optimizerType, lrScheduler, mixedPrecision, networkModule,
                savePrecision, blocksToSwap, fp8Base, fp8Scaled, gradientCheckpointing);
        if (validateEveryNSteps < 0) problems.add(new TrainingArgsException.Problem("validate_every_n_steps", "must be >= 1 (or absent for never), got " + validateEveryNSteps));
        if (validateEveryNEpochs < 0) problems.add(new TrainingArgsException.Problem("validate_every_n_epochs", "must be >= 1 (or absent for never), got " + validateEveryNEpochs));
        if (!problems.isEmpty()) throw new TrainingArgsException(problems);
    }

    /** The same options with blocks_to_swap n (e.g. auto resolved to a count). */
    public TrainingArgs withBlocksToSwap(int n) {
        return new TrainingArgs(networkDim, networkAlpha, learningRate, maxTrainSteps, maxTrainEpochs, seed, discreteFlowShift, maxGradNorm,
                saveEveryNSteps, saveEveryNEpochs, sampleEveryNSteps, sampleEveryNEpochs, sampleAtFirst, samplePrompts,
                gradientCheckpointing, outputName, timestepSampling, optimizerType, lrScheduler, saveState, mixedPrecision,
                networkModule, savePrecision, n, fp8Base, fp8Scaled, validateEveryNSteps, validateEveryNEpochs, modelMetadata);
    }

    /**
     * The first form (kept for callers written against it): no epochs, no sampling, no gradient
     * checkpointing, AdamW, bf16 saves, a state saved with every LoRA.
     */
    public TrainingArgs(int networkDim, double networkAlpha, double learningRate, int maxTrainSteps, long seed,
                        double discreteFlowShift, double maxGradNorm, int saveEveryNSteps, String outputName) {
        this(networkDim, networkAlpha, learningRate, maxTrainSteps, 0, seed, discreteFlowShift, maxGradNorm, saveEveryNSteps, 0,
                0, 0, false, List.of(), false, outputName, "shift", "adamw", "constant", true, "bf16", "networks.lora_wan", "bf16", 0,
                false, false, 0, 0, Map.of());
    }

    /** The reference run's settings (dim 32, alpha 32, lr 5e-5, shift 3.0, clip 1.0, seed 2025) for this many steps. */
    public static TrainingArgs reference(int maxTrainSteps, String outputName) {
        return new TrainingArgs(32, 32, 5e-5, maxTrainSteps, 2025, 3.0, 1.0, 0, outputName);
    }

    /**
     * Optimizer steps of the whole run for a dataset of this many batches per epoch: max_train_epochs ×
     * batchesPerEpoch when max_train_epochs is set (musubi: it overrides max_train_steps), else max_train_steps.
     */
    public int totalSteps(int batchesPerEpoch) {
        if (batchesPerEpoch < 1) throw new IllegalArgumentException("an epoch needs at least one batch, got " + batchesPerEpoch);
        if (maxTrainEpochs <= 0) return maxTrainSteps;
        long steps = (long) maxTrainEpochs * batchesPerEpoch;
        if (steps > MAX_STEPS)
            throw new TrainingArgsException(List.of(new TrainingArgsException.Problem("max_train_epochs", maxTrainEpochs + " epochs of "
                    + batchesPerEpoch + " steps are " + steps + " steps, more than " + MAX_STEPS + "; train fewer epochs")));
        return (int) steps;
    }

    /** Epochs of the whole run: ceil(totalSteps / batchesPerEpoch). */
    public int totalEpochs(int batchesPerEpoch) {
        int steps = totalSteps(batchesPerEpoch);
        return (steps + batchesPerEpoch - 1) / batchesPerEpoch;
    }

    /** The sample prompts, parsed. */
    public List<SamplePrompt> parsedSamplePrompts() { return samplePrompts.stream().map(SamplePrompt::parse).toList(); }

    /** The dtype LoRA files are saved in (save_precision). */
    public ScalarType saveDtype() {
        return switch (savePrecision.toLowerCase(Locale.ROOT)) {
            case "float", "fp32", "float32" -> ScalarType.Float;
            case "fp16", "float16" -> ScalarType.Half;
            default -> ScalarType.BFloat16;
        };
    }

    /** True for optimizer_type adamw8bit (bitsandbytes' block-wise 8-bit AdamW, {@link AdamW8bit}). */
    public boolean adamw8bitRequested() { return optimizerType.equalsIgnoreCase("adamw8bit"); }

    /** blocks_to_swap "auto": chosen when the run starts, from the dataset's buckets and the device memory budget. */
    public boolean autoSwap() { return blocksToSwap == AUTO_SWAP; }

    /**
     * The DiT's block Linear storage fp8_base and fp8_scaled ask for: float8 e4m3 with one scale per
     * {@value #FP8_BLOCK} columns (fp8_scaled, musubi's layout) or one per tensor (fp8_base alone); null without fp8_base.
     */
    public WeightStorage fp8Storage() {
        if (!fp8Base) return null;
        return fp8Scaled ? WeightStorage.blockwise(WeightStorage.Format.FP8_E4M3, FP8_BLOCK) : WeightStorage.perTensor(WeightStorage.Format.FP8_E4M3);
    }

    /** What the memory and precision options of this run do, for the job's record (empty when none is set). */
    public List<String> notes() {
        List<String> notes = new ArrayList<>();
        if (adamw8bitRequested())
            notes.add("optimizer_type adamw8bit: 8-bit moments block-wise as bitsandbytes' AdamW8bit (" + AdamW8bit.BLOCK_SIZE
                    + " elements per absmax block; parameters under " + AdamW8bit.MIN_8BIT_SIZE + " elements keep 32-bit moments)");
        if (fp8Base)
            notes.add(fp8Scaled
                    ? "fp8_base, fp8_scaled: the DiT's block Linears are stored as float8 e4m3 with block-wise scales (" + FP8_BLOCK
                      + " columns), upcast per use; the LoRA trains in full precision"
                    : "fp8_base: the DiT's block Linears are stored as float8 e4m3 with one scale per tensor, upcast per use; "
                      + "the LoRA trains in full precision");
        if (autoSwap())
            notes.add("blocks_to_swap auto: the fewest blocks whose planned peak fits the device memory budget (kaze.device-memory-budget), "
                    + "chosen for the dataset's buckets when the run starts");
        else if (blocksToSwap > 0)
            notes.add("blocks_to_swap " + blocksToSwap + ": the last " + blocksToSwap + " blocks' Linear weights stay in host memory, "
                    + "streamed to the device block by block in the forward pass and in reverse order in the backward pass");
        return notes;
    }

    /** Whether the run validates at all (a cadence is set; the dataset config must then hold validation datasets). */
    public boolean validates() { return validateEveryNSteps > 0 || validateEveryNEpochs > 0; }

    /**
     * The notes of a run with these options as sent: {@link #notes()} and one line for every musubi option given
     * that has no effect here ({@link MusubiOptions}).
     */
    public static List<String> notes(JsonNode json) {
        List<String> notes = new ArrayList<>(fromJson(json).notes());
        if (json.hasNonNull("mixed_precision") && "bf16".equals(json.get("mixed_precision").asString("")))
            notes.add("mixed_precision bf16: the DiT computes in bfloat16 on CUDA (the server's compute dtype); on the CPU in float32");
        notes.addAll(MusubiOptions.notes(json));
        return notes;
    }

    /** The keys {@link #fromJson} accepts. */
    public static final List<String> KEYS = List.of("network_dim", "network_alpha", "learning_rate", "max_train_steps",
            "max_train_epochs", "seed", "discrete_flow_shift", "max_grad_norm", "save_every_n_steps", "save_every_n_epochs",
            "sample_every_n_steps", "sample_every_n_epochs", "sample_at_first", "sample_prompts", "gradient_checkpointing",
            "output_name", "timestep_sampling", "optimizer_type", "lr_scheduler", "save_state", "mixed_precision",
            "network_module", "save_precision", "blocks_to_swap", "fp8_base", "fp8_scaled", "validate_every_n_steps",
            "validate_every_n_epochs", "training_comment", "metadata_title", "metadata_author", "metadata_description",
            "metadata_license", "metadata_tags");

    /** The LoRA metadata key each metadata option sets. */
    private static final Map<String, String> METADATA_KEYS = Map.of("training_comment", "ss_training_comment",
            "metadata_title", "modelspec.title", "metadata_author", "modelspec.author", "metadata_description", "modelspec.description",
            "metadata_license", "modelspec.license", "metadata_tags", "modelspec.tags");

    /**
     * Reads a JSON object of musubi option names. Absent keys and JSON nulls take the defaults in the
     * record's documentation (the reference run's where it sets them: dim/alpha 32, lr 5e-5, shift
     * 3.0, seed 2025, gradient checkpointing and save_state on; 50 epochs when neither max_train_steps
     * nor max_train_epochs is given). sample_prompts is an array of prompt lines, or one string of
     * lines (blank lines and '#' lines skipped, as in a musubi .txt file).
     *
     * @throws TrainingArgsException listing every unknown key, wrong type and out-of-range value
     */
    public static TrainingArgs fromJson(JsonNode json) {
        List<TrainingArgsException.Problem> problems = new ArrayList<>();
        if (json == null || !json.isObject())
            throw new TrainingArgsException(List.of(new TrainingArgsException.Problem("", "training options must be a JSON object")));
        Map<String, JsonNode> in = new LinkedHashMap<>();
        for (var e : json.properties()) {
            String key = e.getKey();
            if (KEYS.contains(key)) {
                if (!e.getValue().isNull()) in.put(key, e.getValue());
            } else if (MusubiOptions.isOther(key)) {
                String refused = MusubiOptions.refusal(key, e.getValue());
                if (refused != null) problems.add(new TrainingArgsException.Problem(key, refused));
            } else problems.add(new TrainingArgsException.Problem(key, unknown(key)));
        }
        Reader r = new Reader(in, problems);
        boolean stepsGiven = in.containsKey("max_train_steps");
        int dim = r.integer("network_dim", 32);
        double alpha = r.number("network_alpha", 32.0);
        double lr = r.number("learning_rate", 5e-5);
        int steps = r.integer("max_train_steps", 1600);
        int epochs = r.integer("max_train_epochs", stepsGiven ? 0 : 50);
        long seed = r.longInteger("seed", 2025);
        double shift = r.number("discrete_flow_shift", 3.0);
        double clip = r.number("max_grad_norm", 1.0);
        int saveSteps = r.integer("save_every_n_steps", 0);
        int saveEpochs = r.integer("save_every_n_epochs", 0);
        int sampleSteps = r.integer("sample_every_n_steps", 0);
        int sampleEpochs = r.integer("sample_every_n_epochs", 0);
        boolean sampleAtFirst = r.bool("sample_at_first", false);
        List<String> prompts = r.lines("sample_prompts");
        boolean ckpt = r.bool("gradient_checkpointing", true);
        String name = r.string("output_name", "lora");
        String sampling = r.string("timestep_sampling", "shift");
        String optimizer = r.string("optimizer_type", "adamw");
        String scheduler = r.string("lr_scheduler", "constant");
        boolean saveState = r.bool("save_state", true);
        String precision = r.string("mixed_precision", "bf16");
        String module = r.string("network_module", "networks.lora_wan");
        String savePrecision = r.string("save_precision", "bf16");
        int swap = r.swapCount("blocks_to_swap");
        boolean fp8Base = r.bool("fp8_base", false);
        boolean fp8Scaled = r.bool("fp8_scaled", false);
        int validateSteps = r.integer("validate_every_n_steps", 0);
        int validateEpochs = r.integer("validate_every_n_epochs", 0);
        Map<String, String> modelMetadata = new LinkedHashMap<>();
        for (String key : KEYS)
            if (METADATA_KEYS.containsKey(key) && in.containsKey(key)) modelMetadata.put(METADATA_KEYS.get(key), r.string(key, ""));
        problems.addAll(check(dim, alpha, lr, steps, epochs, seed, shift, clip, saveSteps, saveEpochs, sampleSteps, sampleEpochs,
                prompts, name, sampling, optimizer, scheduler, precision, module, savePrecision, swap, fp8Base, fp8Scaled, ckpt));
        if (!problems.isEmpty()) throw new TrainingArgsException(problems);
        return new TrainingArgs(dim, alpha, lr, steps, epochs, seed, shift, clip, saveSteps, saveEpochs, sampleSteps, sampleEpochs,
                sampleAtFirst, prompts, ckpt, name, sampling, optimizer, scheduler, saveState, precision, module, savePrecision, swap,
                fp8Base, fp8Scaled, validateSteps, validateEpochs, modelMetadata);
    }

    /** The message for an option that is not musubi's: the nearest known name when one is close, and where the list is. */
    private static String unknown(String key) {
        String near = null;
        int best = 3;
        List<String> all = new ArrayList<>(KEYS);
        all.addAll(MusubiOptions.others());
        for (String k : all) {
            int d = distance(key, k);
            if (d < best) { best = d; near = k; }
        }
        return "is not a musubi-tuner option" + (near != null ? " (did you mean " + near + "?)" : "") + "; the options are listed in "
                + MusubiOptions.DOCS;
    }

    /** Levenshtein distance. */
    private static int distance(String a, String b) {
        int[] prev = new int[b.length() + 1], cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) prev[j] = j;
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++)
                cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1));
            int[] t = prev; prev = cur; cur = t;
        }
        return prev[b.length()];
    }

    /** Typed reads that record a problem (and return the default) on a wrong type. */
    private record Reader(Map<String, JsonNode> in, List<TrainingArgsException.Problem> problems) {
        int integer(String key, int dflt) {
            JsonNode n = in.get(key);
            if (n == null) return dflt;
            if (!n.isIntegralNumber() || !n.canConvertToInt()) { problems.add(new TrainingArgsException.Problem(key, "must be an integer, got " + n)); return dflt; }
            return n.intValue();
        }

        /** An integer, or "auto" ({@link #AUTO_SWAP}). */
        int swapCount(String key) {
            JsonNode n = in.get(key);
            if (n != null && n.isString()) {
                if (n.stringValue().equals("auto")) return AUTO_SWAP;
                problems.add(new TrainingArgsException.Problem(key, "must be a number of blocks or \"auto\", got " + n));
                return 0;
            }
            return integer(key, 0);
        }

        long longInteger(String key, long dflt) {
            JsonNode n = in.get(key);
            if (n == null) return dflt;
            if (!n.isIntegralNumber() || !n.canConvertToLong()) { problems.add(new TrainingArgsException.Problem(key, "must be an integer, got " + n)); return dflt; }
            return n.longValue();
        }

        double number(String key, double dflt) {
            JsonNode n = in.get(key);
            if (n == null) return dflt;
            if (!n.isNumber()) { problems.add(new TrainingArgsException.Problem(key, "must be a number, got " + n)); return dflt; }
            return n.doubleValue();
        }

        boolean bool(String key, boolean dflt) {
            JsonNode n = in.get(key);
            if (n == null) return dflt;
            if (!n.isBoolean()) { problems.add(new TrainingArgsException.Problem(key, "must be true or false, got " + n)); return dflt; }
            return n.booleanValue();
        }

        String string(String key, String dflt) {
            JsonNode n = in.get(key);
            if (n == null) return dflt;
            if (!n.isString()) { problems.add(new TrainingArgsException.Problem(key, "must be a string, got " + n)); return dflt; }
            return n.stringValue();
        }

        List<String> lines(String key) {
            JsonNode n = in.get(key);
            if (n == null) return List.of();
            List<String> out = new ArrayList<>();
            if (n.isString()) {
                for (String line : n.stringValue().split("\\R")) {
                    String l = line.strip();
                    if (l.isEmpty() || l.startsWith("#")) continue;
                    try {
                        SamplePrompt.parse(l);
                        out.add(l);
                    } catch (IllegalArgumentException bad) {
                        problems.add(new TrainingArgsException.Problem(key, "line '" + l + "': " + bad.getMessage()));
                    }
                }
                return out;
            }
            if (!n.isArray()) { problems.add(new TrainingArgsException.Problem(key, "must be an array of prompt lines or one string of lines")); return List.of(); }
            int i = 0;
            for (JsonNode e : n.values()) {
                if (!e.isString()) problems.add(new TrainingArgsException.Problem(key + "[" + i + "]", "must be a string (a musubi prompt line), got " + e));
                else {
                    try {
                        SamplePrompt.parse(e.stringValue());
                        out.add(e.stringValue());
                    } catch (IllegalArgumentException bad) {   // reported under its own index; later checks see only good lines
                        problems.add(new TrainingArgsException.Problem(key + "[" + i + "]", bad.getMessage()));
                    }
                }
                i++;
            }
            return out;
        }
    }

    private static List<TrainingArgsException.Problem> check(int networkDim, double networkAlpha, double learningRate, int maxTrainSteps,
                                                             int maxTrainEpochs, long seed, double discreteFlowShift, double maxGradNorm,
                                                             int saveEveryNSteps, int saveEveryNEpochs, int sampleEveryNSteps,
                                                             int sampleEveryNEpochs, List<String> samplePrompts, String outputName,
                                                             String timestepSampling, String optimizerType, String lrScheduler,
                                                             String mixedPrecision, String networkModule, String savePrecision,
                                                             int blocksToSwap, boolean fp8Base, boolean fp8Scaled,
                                                             boolean gradientCheckpointing) {
        List<TrainingArgsException.Problem> p = new ArrayList<>();
        BiConsumer<String, String> bad = (k, m) -> p.add(new TrainingArgsException.Problem(k, m));
        if (networkDim < 1 || networkDim > MAX_DIM) bad.accept("network_dim", "must be between 1 and " + MAX_DIM + ", got " + networkDim);
        if (!Double.isFinite(networkAlpha) || networkAlpha < 0) bad.accept("network_alpha", "must be a finite number >= 0 (0: alpha = network_dim), got " + networkAlpha);
        if (!Double.isFinite(learningRate) || !(learningRate > 0) || learningRate > 1) bad.accept("learning_rate", "must be in (0, 1], got " + learningRate);
        if (maxTrainSteps < 1 || maxTrainSteps > MAX_STEPS) bad.accept("max_train_steps", "must be between 1 and " + MAX_STEPS + ", got " + maxTrainSteps);
        if (maxTrainEpochs < 0 || maxTrainEpochs > MAX_EPOCHS) bad.accept("max_train_epochs", "must be between 1 and " + MAX_EPOCHS + " (or absent), got " + maxTrainEpochs);
        if (seed < 0) bad.accept("seed", "must be a non-negative integer, got " + seed);
        if (!Double.isFinite(discreteFlowShift) || !(discreteFlowShift > 0) || discreteFlowShift > 100)
            bad.accept("discrete_flow_shift", "must be a number in (0, 100], got " + discreteFlowShift);
        if (!Double.isFinite(maxGradNorm) || maxGradNorm < 0) bad.accept("max_grad_norm", "must be a finite number >= 0 (0 turns clipping off), got " + maxGradNorm);
        if (saveEveryNSteps < 0) bad.accept("save_every_n_steps", "must be >= 1 (or absent for never), got " + saveEveryNSteps);
        if (saveEveryNEpochs < 0) bad.accept("save_every_n_epochs", "must be >= 1 (or absent for never), got " + saveEveryNEpochs);
        if (sampleEveryNSteps < 0) bad.accept("sample_every_n_steps", "must be >= 1 (or absent for never), got " + sampleEveryNSteps);
        if (sampleEveryNEpochs < 0) bad.accept("sample_every_n_epochs", "must be >= 1 (or absent for never), got " + sampleEveryNEpochs);
        if (samplePrompts.size() > MAX_SAMPLE_PROMPTS) bad.accept("sample_prompts", "at most " + MAX_SAMPLE_PROMPTS + " prompts, got " + samplePrompts.size());
        for (int i = 0; i < samplePrompts.size(); i++) {
            try {
                SamplePrompt.parse(samplePrompts.get(i));
            } catch (IllegalArgumentException e) {
                bad.accept("sample_prompts[" + i + "]", e.getMessage());
            }
        }
        if (outputName == null || !outputName.matches("[A-Za-z0-9._-]{1,128}") || outputName.contains(".."))
            bad.accept("output_name", "must be 1 to 128 letters, digits, '.', '_' or '-' (no '..'), got '" + outputName + "'");
        if (!"shift".equals(timestepSampling))
            bad.accept("timestep_sampling", "only \"shift\" is supported (musubi's sigma, uniform, sigmoid, logsnr, qinglong and flux_shift are not), got '" + timestepSampling + "'");
        if (optimizerType == null || !(optimizerType.equalsIgnoreCase("adamw") || optimizerType.equalsIgnoreCase("adamw8bit")))
            bad.accept("optimizer_type", "must be \"adamw\" or \"adamw8bit\" (bitsandbytes' 8-bit AdamW), got '" + optimizerType + "'");
        if (!"constant".equals(lrScheduler)) bad.accept("lr_scheduler", "only \"constant\" is supported, got '" + lrScheduler + "'");
        if (!"bf16".equals(mixedPrecision) && !"no".equals(mixedPrecision))
            bad.accept("mixed_precision", "must be \"bf16\" or \"no\" (musubi allows nothing else for a bf16 DiT), got '" + mixedPrecision + "'");
        if (!"networks.lora_wan".equals(networkModule)) bad.accept("network_module", "only \"networks.lora_wan\" is supported, got '" + networkModule + "'");
        if (savePrecision == null || !List.of("bf16", "bfloat16", "float", "fp32", "float32", "fp16", "float16").contains(savePrecision.toLowerCase(Locale.ROOT)))
            bad.accept("save_precision", "must be \"bf16\", \"float\" (fp32) or \"fp16\", got '" + savePrecision + "'");
        if (blocksToSwap != AUTO_SWAP && (blocksToSwap < 0 || blocksToSwap > 39))
            bad.accept("blocks_to_swap", "must be between 0 and 39 (or \"auto\"), got " + blocksToSwap);
        else if (blocksToSwap != 0 && !gradientCheckpointing)
            bad.accept("blocks_to_swap", "needs gradient_checkpointing: true (the swapped blocks stream in again, in reverse order, "
                    + "for the backward pass, as in musubi); turn it on or set blocks_to_swap to 0");
        if (fp8Scaled && !fp8Base) bad.accept("fp8_scaled", "needs fp8_base: true (as in musubi)");
        return p;
    }
}
