package dev.kaze.pipeline;

import dev.kaze.pipeline.dit.DitConfig;
import dev.kaze.pipeline.dit.DitOptions;
import dev.kaze.pipeline.dit.WanDit;
import dev.kaze.pipeline.lora.LoraFile;
import dev.kaze.pipeline.lora.LoraStack;
import dev.kaze.tensor.Linear;
import dev.kaze.tensor.TensorSource;
import dev.kaze.tensor.TensorSpec;
import dev.kaze.tensor.WeightStorage;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The one DiT a model keeps on its device, with the LoRA stack merged into it: which stack that
 * is, which keys it changed, the stack's files as they were, and the block swap count a rebuild
 * uses. A new stack is merged in place where it can be, else the DiT is rebuilt from the base
 * source. Not thread-safe: the model's device worker uses it.
 */
final class ResidentDit implements AutoCloseable {
    private final DitConfig config;
    private final TensorSource base;       // the pristine DiT weights, the source of every merge and rebuild
    private final LoraCatalog loras;
    private final Device device;
    private final DitOptions options;      // dtype and storage of every (re)build; its swap count is overridden by swap
    private WanDit dit;                    // null until built, and after reset
    private int swap;                      // blocks to swap when the DiT is (re)built
    private List<GenerateRequest.LoraRef> stack;   // merged into dit; null when none is built
    private Set<String> targets = Set.of();        // the keys the stack merged into dit changes
    private List<String> stamps;           // the stack's files as they were (size, modification time): a replaced file rebuilds
    private long loads;                    // DiTs loaded from the base source, for tests
    private long separateBuilds;           // DiTs built for a caller with other options (training), for tests

    /** No DiT yet: the first {@link #get} loads one from base (which this then owns) onto device. */
    ResidentDit(DitConfig config, TensorSource base, LoraCatalog loras, Device device, DitOptions options) {
        this.config = config;
        this.base = base;
        this.loras = loras;
        this.device = device;
        this.options = options;
        this.swap = options.blocksToSwap();
    }

    /** Keeps a DiT already built from the base weights as the one serving the empty stack. */
    void adopt(WanDit built) {
        reset();
        dit = built;
        stack = List.of();
        stamps = List.of();
    }

    /**
     * {@link #get(List)} with this many blocks swapped: a DiT built with another swap count is
     * freed first and rebuilt with this one (so the device never holds both).
     */
    WanDit get(List<GenerateRequest.LoraRef> stack, int blocksToSwap) {
        if (dit != null && dit.blocksSwapped() != blocksToSwap) reset();
        swap = blocksToSwap;
        return get(stack);
    }

    /** The DiT with this LoRA stack merged (see {@link WanModel#dit(List)}). */
    WanDit get(List<GenerateRequest.LoraRef> stack) {
        List<String> stamps = stamps(stack);
        if (dit != null && stack.equals(this.stack) && stamps.equals(this.stamps)) return dit;
        List<LoraFile> files = new ArrayList<>();
        try (PointerScope scope = new PointerScope()) {
            List<LoraStack.Layer> layers = new ArrayList<>();
            for (GenerateRequest.LoraRef ref : stack) {
                LoraFile f = LoraFile.read(loras.resolve(ref.name()), base);
                files.add(f);
                layers.add(new LoraStack.Layer(f, ref.strength()));
            }
            LoraStack next = new LoraStack(layers);
            TensorSource source = layers.isEmpty() ? base : next.apply(base);   // checks every target against the base
            Set<String> nextTargets = next.targets();
            Set<String> changed = new LinkedHashSet<>(targets);
            changed.addAll(nextTargets);
            if (dit != null && updatableInPlace(changed)) {
                try {
                    for (String key : changed) mergeInPlace(key, next);
                } catch (RuntimeException e) {
                    reset();                              // half-merged: never serve it
                    throw e;
                }
            } else {
                WanDit rebuilt = WanDit.load(config, source, device, options.withBlocksToSwap(dit != null ? dit.blocksSwapped() : swap));
                loads++;
                if (dit != null) dit.close();
                dit = rebuilt;
            }
            this.stack = List.copyOf(stack);
            targets = Set.copyOf(nextTargets);
            this.stamps = stamps;
            return dit;
        } finally {
            files.forEach(LoraFile::close);
        }
    }

    /** The options of the DiT this serves (its swap count as built, or as the next build uses). */
    DitOptions served() { return options.withBlocksToSwap(dit != null ? dit.blocksSwapped() : swap); }

    /**
     * A DiT without LoRA built from the base source with these options, owned by the caller; the
     * served DiT is freed first (so the device never holds both) and the next {@link #get} rebuilds it.
     */
    WanDit build(DitOptions requested) {
        reset();
        try (PointerScope scope = new PointerScope()) {
            WanDit built = WanDit.load(config, base, device, requested);
            separateBuilds++;
            return built;
        }
    }

    /** How many DiTs {@link #build} made, for tests. */
    long separateBuilds() { return separateBuilds; }

    /** Frees the DiT, so the next {@link #get} loads one from the base source with its stack. */
    void reset() {
        if (dit != null) dit.close();
        dit = null;
        stack = null;
        targets = Set.of();
    }

    /** How many times {@link #get} loaded a DiT from the base source (not counting in-place updates). */
    long loads() { return loads; }

    /** The LoRA stack the DiT has merged, or null when none is built. */
    List<GenerateRequest.LoraRef> stack() { return stack; }

    private boolean updatableInPlace(Set<String> keys) {
        for (String key : keys) {
            Tensor p = dit.parameter(key);
            if (p != null) {
                if (!base.spec(key).hasShape(p.sizes().vec().get())) return false;
                continue;
            }
            Linear l = dit.blockLinear(key);
            TensorSpec spec = base.spec(key);
            if (l == null || !l.isFloat8() || spec == null || !spec.hasShape(l.quantized().sizes().vec().get())) return false;
            WeightStorage.Format published = WeightStorage.Format.of(spec.dtype().scalarType());
            if (published != null && (publishedScale(key) == null
                    || published != WeightStorage.Format.of(l.quantized().scalar_type()))) return false;
        }
        return true;
    }

    /** The spec of the scale_weight the base stores beside a float8 weight key, or null. */
    private TensorSpec publishedScale(String weightKey) {
        String scaleKey = Linear.scaleKey(weightKey);
        return scaleKey == null ? null : base.spec(scaleKey);
    }

    /** dit's tensor for key := the base tensor with the stack's patches merged (exactly the base when none). */
    private void mergeInPlace(String key, LoraStack stack) {
        try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
            Tensor p = dit.parameter(key);
            Tensor stored = base.load(key);                                 // pristine, stored dtype, host
            if (p == null && WeightStorage.Format.of(stored.scalar_type()) != null) {   // published float8 (+ scale_weight)
                Tensor scale = base.load(Linear.scaleKey(key));                            // as published, host
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

    private List<String> stamps(List<GenerateRequest.LoraRef> stack) {
        List<String> stamps = new ArrayList<>();
        for (GenerateRequest.LoraRef ref : stack) {
            Path file = loras.resolve(ref.name());
            try {
                stamps.add(file + " " + Files.size(file) + " " + Files.getLastModifiedTime(file).toMillis()
                        + " " + Files.readAttributes(file, BasicFileAttributes.class).fileKey());
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read LoRA " + file + ": " + e.getMessage(), e);
            }
        }
        return stamps;
    }

    /** Frees the DiT and closes the base source. */
    @Override public void close() {
        reset();
        base.close();
    }
}
