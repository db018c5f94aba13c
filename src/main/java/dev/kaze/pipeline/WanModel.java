package dev.kaze.pipeline;

import dev.kaze.pipeline.dit.DitConfig;
import dev.kaze.pipeline.dit.DitOptions;
import dev.kaze.pipeline.dit.WanDit;
import dev.kaze.pipeline.lora.LoraStack;
import dev.kaze.pipeline.text.ByteTokenizer;
import dev.kaze.pipeline.text.HfTokenizer;
import dev.kaze.pipeline.text.PromptTokenizer;
import dev.kaze.pipeline.text.T5Encoder;
import dev.kaze.pipeline.text.T5EncoderLoader;
import dev.kaze.pipeline.vae.LatentScale;
import dev.kaze.pipeline.vae.WanVae;
import dev.kaze.tensor.ShapeManifest;
import dev.kaze.tensor.TensorMap;
import dev.kaze.tensor.TensorSource;
import dev.kaze.tensor.TensorSpec;
import dev.kaze.tensor.Weights;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.DeviceType;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * A loaded text-to-video model: tokenizer, umT5, the resident DiT (with the LoRA stack in use merged,
 * over the DiT's base weights), the VAE and the LoRA catalog. Not thread-safe: one device worker uses it.
 */
public final class WanModel implements AutoCloseable {
    private final String id;
    private final PromptTokenizer tokenizer;
    private final T5Encoder t5;
    private final DitConfig ditConfig;
    private final ResidentDit dit;
    private final WanVae vae;
    private final LoraCatalog loras;
    private final List<GenerateRequest.LoraRef> defaultLoras;
    private final Device device;
    private final ModelOptions options;
    private long textEncoderCopies;

    private WanModel(String id, PromptTokenizer tokenizer, T5Encoder t5, DitConfig ditConfig, ResidentDit dit,
                     WanVae vae, LoraCatalog loras, List<GenerateRequest.LoraRef> defaultLoras, Device device, ModelOptions options) {
        this.id = id;
        this.options = options;
        this.tokenizer = tokenizer;
        this.t5 = t5;
        this.ditConfig = ditConfig;
        this.dit = dit;
        this.vae = vae;
        this.loras = loras;
        this.defaultLoras = List.copyOf(defaultLoras);
        this.device = device;
    }

    /** {@link #preview(Path, Device, ModelOptions)} with the default options. */
    public static WanModel preview(Path loraDir, Device device) {
        return preview(loraDir, device, ModelOptions.DEFAULT);
    }

    /**
     * The built-in preview model (generated weights, byte tokenizer, float32), using memory as
     * options say (float8 blocks, block swap, umT5 on the host); LoRAs from loraDir if given.
     */
    public static WanModel preview(Path loraDir, Device device, ModelOptions options) {
        return generated(new LoraCatalog(loraDir), device, options, null);
    }

    /** The built-in preview model as {@link #preview(Path, Device, ModelOptions)}, with its LoRAs from this catalog. */
    public static WanModel previewWith(LoraCatalog loras, Device device, ModelOptions options) {
        return generated(loras, device, options, null);
    }

    /**
     * The preview model whose DiT base source is {@code repack} applied to the generated weights
     * (e.g. a published-style float8 repack with scale_weight tensors), loaded from it as a
     * checkpoint's DiT is. For tests.
     */
    static WanModel previewRepacked(Path loraDir, Device device, ModelOptions options, UnaryOperator<Map<String, Tensor>> repack) {
        if (repack == null) throw new IllegalArgumentException("repack is required; use preview for the generated weights as they are");
        return generated(new LoraCatalog(loraDir), device, options, repack);
    }

    /** The preview model; repack null: the generated weights as they are. */
    private static WanModel generated(LoraCatalog catalog, Device device, ModelOptions options, UnaryOperator<Map<String, Tensor>> repack) {
        ScalarType f32 = ScalarType.Float;
        try (PointerScope scope = new PointerScope()) {
            Weights.Initializer init = PreviewModel.initializer(PreviewModel.SEED);
            T5Encoder t5 = T5EncoderLoader.load(Weights.generated(init, cpu()), PreviewModel.T5, f32);   // host copy, see encodeText
            Weights ditWeights = Weights.generated(init, device);
            WanDit built = WanDit.build(PreviewModel.DIT, ditWeights, DitOptions.of(f32));
            // the base weights stay as a source for LoRA stacks (copies: LoRA stacks are merged into the
            // DiT's own tensors in place); the DiT just built serves the empty stack
            Map<String, Tensor> pristine = new LinkedHashMap<>();
            ditWeights.generatedTensors().forEach((k, t) -> pristine.put(k, t.clone()));
            TensorMap ditBase = new TensorMap(PreviewModel.ID + " DiT (generated)", repack != null ? repack.apply(pristine) : pristine);
            int swap = options.blocksToSwap().auto() ? 0 : options.blocksToSwap(PreviewModel.DIT, PreviewModel.VAE, 16, 16, 1);
            DitOptions ditOptions = options.dit(f32).withBlocksToSwap(swap);
            if (options.storage().isFloat8() || swap > 0 || repack != null) {   // quantised from the float32 base, as a checkpoint's DiT is on load
                built.close();
                built = WanDit.load(PreviewModel.DIT, ditBase, device, ditOptions);
            }
            WanVae vae = WanVae.build(Weights.generated(init, device), PreviewModel.VAE, LatentScale.WAN21, f32);
            ResidentDit dit = new ResidentDit(PreviewModel.DIT, ditBase, catalog, device, ditOptions);
            dit.adopt(built);
            return new WanModel(PreviewModel.ID, new ByteTokenizer(PreviewModel.TEXT_LEN), t5, PreviewModel.DIT, dit, vae,
                    catalog, List.of(), device, options);
        }
    }

    /**
     * The preview DiT's keys and shapes (float32), without values: what an uploaded LoRA is
     * checked against. Builds the tiny DiT once on the CPU and keeps only its layout.
     */
    public static ShapeManifest previewDitShapes() {
        try (PointerScope scope = new PointerScope()) {
            Weights w = Weights.generated(PreviewModel.initializer(PreviewModel.SEED), cpu());
            Map<String, TensorSpec> specs = new LinkedHashMap<>();
            try (WanDit dit = WanDit.build(PreviewModel.DIT, w, DitOptions.of(ScalarType.Float));
                 TensorMap map = new TensorMap(PreviewModel.ID + " DiT (generated)", w.generatedTensors())) {
                for (String key : map.keys()) specs.put(key, map.spec(key));
            }
            return new ShapeManifest(PreviewModel.ID + " DiT", specs);
        }
    }

    /**
     * A real model from a directory in the Hugging Face or ComfyUI layout, using memory as options
     * say. loraDir: the LoRA catalog's directory, or null for the model directory's own {@code loras/}.
     * The DiT is built at the first {@link #dit} call (with auto block swap, for that render's size).
     * With umT5 on the host it computes in float32 when dtype is float32, in bfloat16 otherwise.
     */
    public static WanModel open(ModelDirectory.ModelFiles files, Path loraDir, Device device, ScalarType dtype, ModelOptions options) {
        return openWith(files, new LoraCatalog(loraDir != null ? loraDir : files.loras()), device, dtype, options);
    }

    /** A real model as {@link #open(ModelDirectory.ModelFiles, Path, Device, ScalarType, ModelOptions)}, with its LoRAs from this catalog. */
    public static WanModel openWith(ModelDirectory.ModelFiles files, LoraCatalog catalog, Device device, ScalarType dtype, ModelOptions options) {
        PromptTokenizer tokenizer = null;
        T5Encoder t5 = null;
        TensorSource ditBase = null;
        try {
            DitConfig cfg = files.ditConfig() != null ? DitConfig.read(files.ditConfig()) : null;
            ditBase = TensorSource.open(files.dit());
            if (cfg == null) cfg = DitConfig.detect(ditBase);
            tokenizer = HfTokenizer.open(files.tokenizer(), cfg.textLen());
            t5 = T5EncoderLoader.open(files.textEncoder(), cpu(), dtype);   // kept in host memory, see encodeText
            WanVae vae = WanVae.load(files.vae(), device, ScalarType.Float);
            List<GenerateRequest.LoraRef> defaults = Recipe.defaultLoras(catalog);
            return new WanModel(Recipe.modelId(cfg), tokenizer, t5, cfg, new ResidentDit(cfg, ditBase, catalog, device, options.dit(dtype)),
                    vae, catalog, defaults, device, options);
        } catch (RuntimeException e) {
            if (t5 != null) t5.close();
            if (tokenizer != null) tokenizer.close();
            if (ditBase != null) ditBase.close();
            throw e;
        }
    }

    public String id() { return id; }

    public boolean isPreview() { return id.equals(PreviewModel.ID); }

    public PromptTokenizer tokenizer() { return tokenizer; }

    public T5Encoder textEncoder() { return t5; }

    public WanVae vae() { return vae; }

    public LoraCatalog loras() { return loras; }

    public List<GenerateRequest.LoraRef> defaultLoras() { return defaultLoras; }

    public DitConfig ditConfig() { return ditConfig; }

    public Device device() { return device; }

    /** How this model uses memory. */
    public ModelOptions options() { return options; }

    /**
     * The trimmed umT5 output [L, dim] of one tokenized prompt (ids, mask: [1, text_len] int64 on any
     * device). umT5's weights stay in host memory; with {@link ModelOptions#textEncoderOnHost()} it
     * runs there, otherwise a device copy of its weights is made for this call and released after
     * it, so the device never keeps umT5 while the DiT denoises (a CPU device uses the host copy as is).
     * The result is on the encoder's device, in the caller's scope.
     */
    public Tensor encodeText(Tensor ids, Tensor mask) {
        Device at = textEncoderDevice();
        if (at.type().value == DeviceType.CPU.value)
            return t5.encodeTrimmed(ids.to(at, ScalarType.Long), mask.to(at, ScalarType.Long));
        try (T5Encoder onDevice = t5.copyTo(at)) {
            textEncoderCopies++;
            return onDevice.encodeTrimmed(ids.to(at, ScalarType.Long), mask.to(at, ScalarType.Long));
        }
    }

    /** How many times umT5's weights were copied to the device for encoding (each released after), for tests. */
    public long textEncoderCopies() { return textEncoderCopies; }

    /** The device umT5 runs on: the host with {@link ModelOptions#textEncoderOnHost()}, else the model's device. */
    public Device textEncoderDevice() { return options.textEncoderOnHost() ? cpu() : device; }

    /** The memory plan of a render of this size: the swap count and VAE decode tiling this model uses for it. */
    public MemoryPlan plan(int width, int height, int frames) {
        return options.plan(ditConfig, vae.config(), width, height, frames);
    }

    /** The number of DiT blocks swapped for a render of this size (see {@link ModelOptions#blocksToSwap}). */
    public int blocksToSwap(int width, int height, int frames) {
        return options.blocksToSwap(ditConfig, vae.config(), width, height, frames);
    }

    private static Device cpu() { return new Device(DeviceType.CPU); }

    /**
     * {@link #dit(List)} for a render of this size: with auto block swap, a DiT built with another
     * swap count is rebuilt with the count this size needs (the old one is freed first, so the
     * device never holds both).
     */
    public WanDit dit(List<GenerateRequest.LoraRef> stack, int width, int height, int frames) {
        return dit.get(stack, blocksToSwap(width, height, frames));
    }

    /**
     * The DiT with this LoRA stack merged. When the stack differs from the last one, the resident
     * DiT's weights are updated in place: every key the old or the new stack changes is set to
     * {@code W = base + Σ strength · ΔW} (summed in float32 over the pristine base tensor re-read
     * from the base source, cast once to the stored dtype, then converted as at load), so keys only
     * the old stack touched go back to the base values exactly, and the result is bit-identical to a
     * model loaded fresh with the new stack. Never unmerged by subtraction. A block Linear kept as
     * float8 (from a bf16/float32 base) gets the same merged weight requantised with its own format
     * and scale layout, copied into its values and scales in place; quantisation is deterministic,
     * so switching back gives the base's float8 bytes exactly. A weight the checkpoint itself stores
     * as float8 with its {@code scale_weight} (a published fp8 repack) kept by a float8 Linear is
     * merged in float32 from q · scale, requantised with the Linear's scale layout and a fresh scale
     * ({@link LoraStack#mergeFloat8}, as a fresh load through {@link LoraStack#apply} gets it), and
     * gets the published q and scale copied back exactly when no LoRA patches it any more. Falls
     * back to rebuilding the DiT from the base source for any other key (e.g. such a weight upcast
     * to the compute dtype), and when an in-place update fails halfway, the DiT is dropped and
     * rebuilt next time. A stack whose files were replaced since (size, modification time, file
     * key) is merged again.
     */
    public WanDit dit(List<GenerateRequest.LoraRef> stack) { return dit.get(stack); }

    /** The options of the served DiT: compute dtype, block Linear storage and blocks swapped. */
    public DitOptions ditOptions() { return dit.served(); }

    /**
     * A DiT (no LoRA merged) a training runs over, with these options: the served DiT when its
     * options are these ({@link TrainingDit#separate()} false; closing it keeps it), else one built
     * from the model's base weights with them, distinct from the served DiT, which is freed first so
     * the device never holds both (the next {@link #dit} rebuilds it). Close the result after the run:
     * a separate DiT is freed then.
     */
    public TrainingDit trainingDit(DitOptions options) {
        if (options.equals(dit.served())) return new TrainingDit(dit.get(List.of()), false);
        return new TrainingDit(dit.build(options), true);
    }

    /** A DiT for one training; separate: built for it (freed by {@link #close}), else the served DiT. */
    public record TrainingDit(WanDit dit, boolean separate) implements AutoCloseable {
        @Override public void close() { if (separate) dit.close(); }
    }

    /** How many DiTs {@link #trainingDit} built separately from the served one, for tests. */
    public long trainingDitBuilds() { return dit.separateBuilds(); }

    /** How many times {@link #dit(List)} loaded a DiT from the base source (not counting in-place updates), for tests. */
    public long ditLoads() { return dit.loads(); }

    /** Frees the resident DiT, so the next {@link #dit(List)} loads one from the base source with its stack (for tests). */
    void releaseDit() { dit.reset(); }

    /** The LoRA stack the resident DiT has merged, or null when none is built. */
    public List<GenerateRequest.LoraRef> ditStack() { return dit.stack(); }

    @Override public void close() {
        dit.close();
        t5.close();
        vae.close();
        tokenizer.close();
    }
}
