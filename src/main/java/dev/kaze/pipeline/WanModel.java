package dev.kaze.pipeline;

import dev.kaze.pipeline.dit.DitConfig;
import dev.kaze.pipeline.dit.WanDit;
import dev.kaze.pipeline.lora.LoraFile;
import dev.kaze.pipeline.lora.LoraStack;
import dev.kaze.pipeline.text.ByteTokenizer;
import dev.kaze.pipeline.text.HfTokenizer;
import dev.kaze.pipeline.text.PromptTokenizer;
import dev.kaze.pipeline.text.T5Encoder;
import dev.kaze.pipeline.text.T5EncoderLoader;
import dev.kaze.pipeline.vae.LatentScale;
import dev.kaze.pipeline.vae.WanVae;
import dev.kaze.tensor.TensorMap;
import dev.kaze.tensor.Linear;
import dev.kaze.tensor.TensorSource;
import dev.kaze.tensor.WeightStorage;
import dev.kaze.tensor.Weights;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A loaded text-to-video model: tokenizer, umT5, the DiT's base weights (with the DiT built for
 * the LoRA stack in use), the VAE and the LoRA catalog. Not thread-safe: one device worker uses it.
 */
public final class WanModel implements AutoCloseable {
    private final String id;
    private final PromptTokenizer tokenizer;
    private final T5Encoder t5;
    private final DitConfig ditConfig;
    private final TensorSource ditBase;
    private final WanVae vae;
    private final LoraCatalog loras;
    private final List<GenerateRequest.LoraRef> defaultLoras;
    private final Device device;
    private final ScalarType dtype;
    private final WeightStorage storage;   // how the DiT keeps its block Linear weights
    private final ModelOptions options;
    private WanDit dit;
    private long textEncoderCopies;
    private int ditSwap;   // blocks to swap when the DiT is (re)built
    private List<GenerateRequest.LoraRef> ditStack;
    private Set<String> ditTargets = Set.of();   // the keys the stack merged into dit changes
    private List<String> ditStamps;   // the stack's files as they were (size, modification time): a replaced file rebuilds
    private long ditLoads;            // DiTs loaded from the base source by dit(stack), for tests

    private WanModel(String id, PromptTokenizer tokenizer, T5Encoder t5, DitConfig ditConfig, TensorSource ditBase,
                     WanVae vae, LoraCatalog loras, List<GenerateRequest.LoraRef> defaultLoras, Device device, ScalarType dtype,
                     ModelOptions options) {
        this.id = id;
        this.options = options;
        this.tokenizer = tokenizer;
        this.t5 = t5;
        this.ditConfig = ditConfig;
        this.ditBase = ditBase;
        this.vae = vae;
        this.loras = loras;
        this.defaultLoras = List.copyOf(defaultLoras);
        this.device = device;
        this.dtype = dtype;
        this.storage = options.storage();
        this.ditSwap = options.blocksToSwap().auto() ? 0 : options.blocksToSwap().count();
    }

    /** The built-in preview model (generated weights, byte tokenizer); LoRAs from loraDir if given. */
    public static WanModel preview(java.nio.file.Path loraDir, Device device) {
        return preview(loraDir, device, WeightStorage.COMPUTE);
    }

    /** The preview model with its DiT's block Linear weights kept as storage says (e.g. float8). */
    public static WanModel preview(java.nio.file.Path loraDir, Device device, WeightStorage storage) {
        return preview(loraDir, device, ModelOptions.of(storage));
    }

    /** The preview model using memory as options say (float8 blocks, block swap, umT5 on the host). */
    public static WanModel preview(java.nio.file.Path loraDir, Device device, ModelOptions options) {
        return preview(loraDir, device, options, null);
    }

    /**
     * The preview model whose DiT base source is {@code repack} applied to the generated weights
     * (e.g. a published-style float8 repack with scale_weight tensors), loaded from it as a
     * checkpoint's DiT is; null: the generated weights as they are. For tests.
     */
    static WanModel preview(java.nio.file.Path loraDir, Device device, ModelOptions options,
                            java.util.function.UnaryOperator<Map<String, Tensor>> repack) {
        WeightStorage storage = options.storage();
        ScalarType f32 = ScalarType.Float;
        try (PointerScope scope = new PointerScope()) {
            Weights.Initializer init = PreviewModel.initializer(PreviewModel.SEED);
            T5Encoder t5 = T5EncoderLoader.load(Weights.generated(init, cpu()), PreviewModel.T5, f32);   // host copy, see encodeText
            Weights ditWeights = Weights.generated(init, device);
            WanDit dit = WanDit.build(PreviewModel.DIT, ditWeights, f32);
            // the base weights stay as a source for LoRA stacks (copies: LoRA stacks are merged into the
            // DiT's own tensors in place); the DiT just built serves the empty stack
            Map<String, Tensor> pristine = new LinkedHashMap<>();
            ditWeights.generatedTensors().forEach((k, t) -> pristine.put(k, t.clone()));
            TensorMap ditBase = new TensorMap(PreviewModel.ID + " DiT (generated)", repack != null ? repack.apply(pristine) : pristine);
            int swap = options.blocksToSwap().auto() ? 0 : options.blocksToSwap(PreviewModel.DIT, PreviewModel.VAE, 16, 16, 1);
            if (storage.isFloat8() || swap > 0 || repack != null) {   // quantised from the float32 base, as a checkpoint's DiT is on load
                dit.close();
                dit = WanDit.load(PreviewModel.DIT, ditBase, device, f32, storage, swap);
            }
            WanVae vae = WanVae.build(Weights.generated(init, device), PreviewModel.VAE, LatentScale.WAN21, f32);
            WanModel model = new WanModel(PreviewModel.ID, new ByteTokenizer(PreviewModel.TEXT_LEN), t5, PreviewModel.DIT, ditBase, vae,
                    new LoraCatalog(loraDir), List.of(), device, f32, options);
            model.dit = dit;
            model.ditStack = List.of();
            model.ditStamps = List.of();
            return model;
        }
    }

    /**
     * The preview DiT's keys and shapes (float32), without values: what an uploaded LoRA is
     * checked against. Builds the tiny DiT once on the CPU and keeps only its layout.
     */
    public static dev.kaze.tensor.ShapeManifest previewDitShapes() {
        try (PointerScope scope = new PointerScope()) {
            Weights w = Weights.generated(PreviewModel.initializer(PreviewModel.SEED), new Device(org.bytedeco.pytorch.global.torch.DeviceType.CPU));
            java.util.Map<String, dev.kaze.tensor.TensorSpec> specs = new java.util.LinkedHashMap<>();
            try (WanDit dit = WanDit.build(PreviewModel.DIT, w, ScalarType.Float);
                 TensorMap map = new TensorMap(PreviewModel.ID + " DiT (generated)", w.generatedTensors())) {
                for (String key : map.keys()) specs.put(key, map.spec(key));
            }
            return new dev.kaze.tensor.ShapeManifest(PreviewModel.ID + " DiT", specs);
        }
    }

    /** A real model from a directory in the Hugging Face or ComfyUI layout. */
    /** loraDir: the LoRA catalog's directory, or null for the model directory's own {@code loras/}. */
    public static WanModel open(ModelDirectory.Files files, java.nio.file.Path loraDir, Device device, ScalarType dtype) {
        return open(files, loraDir, device, dtype, WeightStorage.COMPUTE);
    }

    /** {@link #open(ModelDirectory.Files, java.nio.file.Path, Device, ScalarType)} keeping the DiT's block Linear weights as storage says. */
    public static WanModel open(ModelDirectory.Files files, java.nio.file.Path loraDir, Device device, ScalarType dtype,
                                WeightStorage storage) {
        return open(files, loraDir, device, dtype, ModelOptions.of(storage));
    }

    /**
     * A real model using memory as options say. The DiT is built at the first {@link #dit} call
     * (with auto block swap, for that render's size). With umT5 on the host it computes in float32
     * when the model's dtype is float32, in bfloat16 otherwise.
     */
    public static WanModel open(ModelDirectory.Files files, java.nio.file.Path loraDir, Device device, ScalarType dtype,
                                ModelOptions options) {
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
            LoraCatalog catalog = new LoraCatalog(loraDir != null ? loraDir : files.loras());
            return new WanModel(Recipe.modelId(cfg), tokenizer, t5, cfg, ditBase, vae, catalog, Recipe.defaultLoras(catalog), device, dtype, options);
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
        if (at.type().value == org.bytedeco.pytorch.global.torch.DeviceType.CPU.value)
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

    private static Device cpu() { return new Device(org.bytedeco.pytorch.global.torch.DeviceType.CPU); }

    /**
     * {@link #dit(List)} for a render of this size: with auto block swap, a DiT built with another
     * swap count is rebuilt with the count this size needs (the old one is freed first, so the
     * device never holds both).
     */
    public WanDit dit(List<GenerateRequest.LoraRef> stack, int width, int height, int frames) {
        int swap = blocksToSwap(width, height, frames);
        if (dit != null && dit.blocksSwapped() != swap) {
            dit.close();
            dit = null;
            ditStack = null;
            ditTargets = Set.of();
        }
        ditSwap = swap;
        return dit(stack);
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
     * rebuilt next time.
     */
    public WanDit dit(List<GenerateRequest.LoraRef> stack) {
        List<String> stamps = stamps(stack);
        if (dit != null && stack.equals(ditStack) && stamps.equals(ditStamps)) return dit;
        List<LoraFile> files = new ArrayList<>();
        try (PointerScope scope = new PointerScope()) {
            List<LoraStack.Layer> layers = new ArrayList<>();
            for (GenerateRequest.LoraRef ref : stack) {
                LoraFile f = LoraFile.read(loras.resolve(ref.name()), ditBase);
                files.add(f);
                layers.add(new LoraStack.Layer(f, ref.strength()));
            }
            LoraStack next = new LoraStack(layers);
            TensorSource source = layers.isEmpty() ? ditBase : next.apply(ditBase);   // checks every target against the base
            Set<String> nextTargets = next.targets();
            Set<String> changed = new LinkedHashSet<>(ditTargets);
            changed.addAll(nextTargets);
            if (dit != null && updatableInPlace(changed)) {
                try {
                    for (String key : changed) mergeInPlace(key, next);
                } catch (RuntimeException e) {
                    dit.close();                          // half-merged: never serve it
                    dit = null;
                    ditStack = null;
                    ditTargets = Set.of();
                    throw e;
                }
            } else {
                WanDit rebuilt = WanDit.load(ditConfig, source, device, dtype, storage, dit != null ? dit.blocksSwapped() : ditSwap);
                ditLoads++;
                if (dit != null) dit.close();
                dit = rebuilt;
            }
            ditStack = List.copyOf(stack);
            ditTargets = Set.copyOf(nextTargets);
            ditStamps = stamps;
            return dit;
        } finally {
            files.forEach(LoraFile::close);
        }
    }

    private boolean updatableInPlace(Set<String> keys) {
        for (String key : keys) {
            Tensor p = dit.parameter(key);
            if (p != null) {
                if (!ditBase.spec(key).hasShape(p.sizes().vec().get())) return false;
                continue;
            }
            Linear l = dit.blockLinear(key);
            dev.kaze.tensor.TensorSpec spec = ditBase.spec(key);
            if (l == null || !l.isFloat8() || spec == null || !spec.hasShape(l.quantized().sizes().vec().get())) return false;
            WeightStorage.Format published = WeightStorage.Format.of(spec.dtype().scalarType());
            if (published != null && (publishedScale(key) == null
                    || published != WeightStorage.Format.of(l.quantized().scalar_type()))) return false;
        }
        return true;
    }

    /** The spec of the scale_weight the base stores beside a float8 weight key, or null. */
    private dev.kaze.tensor.TensorSpec publishedScale(String weightKey) {
        String scaleKey = Linear.scaleKey(weightKey);
        return scaleKey == null ? null : ditBase.spec(scaleKey);
    }

    /** dit's tensor for key := the base tensor with the stack's patches merged (exactly the base when none). */
    private void mergeInPlace(String key, LoraStack stack) {
        try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
            Tensor p = dit.parameter(key);
            Tensor stored = ditBase.load(key);                              // pristine, stored dtype, host
            if (p == null && WeightStorage.Format.of(stored.scalar_type()) != null) {   // published float8 (+ scale_weight)
                Tensor scale = ditBase.load(Linear.scaleKey(key));                         // as published, host
                Linear l = dit.blockLinear(key);
                if (!stack.patches(key)) {
                    l.copyStoredInPlace(stored, scale);                     // the published bytes, exactly
                } else {
                    Linear.Float8.Quantized merged = stack.mergeFloat8(key, stored, scale);   // as LoraStack.apply serves a fresh load
                    l.copyStoredInPlace(merged.values(), merged.scale());
                }
                return;
            }
            Tensor merged = stack.merge(key, stored);                       // float32 sum, cast once to the stored dtype
            if (p == null) {                                                // a float8 block Linear: quantised as at load
                dit.blockLinear(key).requantizeInPlace(merged);
                return;
            }
            Tensor value = merged.to(p.device(), p.scalar_type(), false, false, new MemoryFormatOptional());
            p.copy_(value);
        }
    }

    /** How many times {@link #dit(List)} loaded a DiT from the base source (not counting in-place updates), for tests. */
    public long ditLoads() { return ditLoads; }

    /** Frees the resident DiT, so the next {@link #dit(List)} loads one from the base source with its stack (for tests). */
    void releaseDit() {
        if (dit != null) dit.close();
        dit = null;
        ditStack = null;
        ditTargets = Set.of();
    }

    /** The LoRA stack the resident DiT has merged, or null when none is built. */
    public List<GenerateRequest.LoraRef> ditStack() { return ditStack; }

    private List<String> stamps(List<GenerateRequest.LoraRef> stack) {
        List<String> stamps = new ArrayList<>();
        for (GenerateRequest.LoraRef ref : stack) {
            java.nio.file.Path file = loras.resolve(ref.name());
            try {
                stamps.add(file + " " + java.nio.file.Files.size(file) + " " + java.nio.file.Files.getLastModifiedTime(file).toMillis()
                        + " " + java.nio.file.Files.readAttributes(file, java.nio.file.attribute.BasicFileAttributes.class).fileKey());
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException("cannot read LoRA " + file + ": " + e.getMessage(), e);
            }
        }
        return stamps;
    }

    @Override public void close() {
        if (dit != null) dit.close();
        t5.close();
        vae.close();
        tokenizer.close();
        ditBase.close();
    }
}
