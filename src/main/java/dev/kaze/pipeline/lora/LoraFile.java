package dev.kaze.pipeline.lora;

import dev.kaze.pipeline.lora.LoraKeys.Mapped;
import dev.kaze.pipeline.lora.LoraKeys.Role;
import dev.kaze.pipeline.lora.LoraKeys.Unmapped;
import dev.kaze.pipeline.lora.LoraPatch.Diff;
import dev.kaze.pipeline.lora.LoraPatch.LowRank;
import dev.kaze.tensor.SafetensorsFile;
import dev.kaze.tensor.TensorSource;
import dev.kaze.tensor.TensorSpec;
import dev.kaze.tensor.WeightsException;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.Set;

/**
 * One LoRA file (musubi/kohya, ComfyUI/Kijai/lightx2v or diffusers/PEFT keys) read against a
 * model: every stored tensor is mapped onto a model key and checked against its shape, or the
 * file is refused with every problem listed. The tensors stay memory-mapped until {@link #close()}.
 */
public final class LoraFile implements AutoCloseable {
    private final SafetensorsFile file;
    private final Set<LoraFormat> formats;
    private final Map<String, List<LoraPatch>> patches;
    private final Map<String, TensorSpec> targetSpecs;

    private LoraFile(SafetensorsFile file, Set<LoraFormat> formats, Map<String, List<LoraPatch>> patches,
                     Map<String, TensorSpec> targetSpecs) {
        this.file = file;
        this.formats = formats;
        this.patches = patches;
        this.targetSpecs = targetSpecs;
    }

    /** The tensors of one module's LoRA pair, by stored name, as they are collected. */
    private static final class Pair {
        final String module;
        final Map<Role, String> stored = new LinkedHashMap<>();
        final Map<Role, String> targets = new LinkedHashMap<>();

        Pair(String module) { this.module = module; }
    }

    /**
     * Reads a LoRA file for the model whose tensors {@code model} names (keys and shapes; the
     * values are not read). Throws a {@link WeightsException} naming the file and listing every
     * tensor that maps to no model key, every incomplete pair and every shape that does not fit.
     */
    public static LoraFile read(Path path, TensorSource model) {
        SafetensorsFile file = SafetensorsFile.open(path);
        try {
            return read(file, model);
        } catch (RuntimeException e) {
            file.close();
            throw e;
        }
    }

    private static LoraFile read(SafetensorsFile file, TensorSource model) {
        LoraKeys keys = new LoraKeys(model.keys());
        List<String> problems = new ArrayList<>();
        Set<LoraFormat> formats = EnumSet.noneOf(LoraFormat.class);
        Map<String, Pair> pairs = new LinkedHashMap<>();
        List<LoraPatch> found = new ArrayList<>();
        Map<String, String> diffSource = new LinkedHashMap<>();

        for (var entry : file.entries().values()) {
            String name = entry.name();
            switch (keys.resolve(name)) {
                case Unmapped u -> problems.add("'" + name + "' " + u.reason());
                case Mapped m -> {
                    formats.add(m.format());
                    if (!entry.spec().dtype().isFloatingPoint()) {
                        problems.add("'" + name + "' is " + entry.spec() + "; LoRA tensors must be floating point");
                        continue;
                    }
                    if (m.role().lowRank()) {
                        Pair pair = pairs.computeIfAbsent(m.module(), Pair::new);
                        String prev = pair.stored.putIfAbsent(m.role(), name);
                        if (prev != null)
                            problems.add("'" + prev + "' and '" + name + "' are both the " + m.role().label + " of '" + m.module() + "'");
                        pair.targets.put(m.role(), m.target());
                    } else {
                        String prev = diffSource.putIfAbsent(m.target(), name);
                        if (prev != null) {
                            problems.add("'" + prev + "' and '" + name + "' are both a full delta of '" + m.target() + "'");
                            continue;
                        }
                        TensorSpec target = model.spec(m.target());
                        if (!target.hasShape(entry.spec().shape()))
                            problems.add("'" + name + "' has shape " + TensorSpec.format(entry.spec().shape())
                                    + ", but the model's '" + m.target() + "' has shape " + TensorSpec.format(target.shape()));
                        else
                            found.add(new Diff(m.target(), name, 1.0));
                    }
                }
            }
        }
        for (Pair pair : pairs.values()) checkPair(file, model, pair, problems, found);

        if (file.entries().isEmpty()) problems.add("the file holds no tensors");
        if (!problems.isEmpty())
            throw new WeightsException("LoRA " + file.path() + " does not fit the model " + model.describe() + " ("
                    + problems.size() + " problem(s)); check that it was trained for this model (e.g. Wan2.1 T2V 14B "
                    + "rather than 1.3B or I2V) and in a supported key format (" + Arrays.toString(LoraFormat.values()) + "):\n  - "
                    + String.join("\n  - ", problems));

        Map<String, List<LoraPatch>> byTarget = new LinkedHashMap<>();
        Map<String, TensorSpec> specs = new LinkedHashMap<>();
        for (LoraPatch p : found) {
            byTarget.computeIfAbsent(p.target(), k -> new ArrayList<>()).add(p);
            specs.put(p.target(), model.spec(p.target()));
        }
        byTarget.replaceAll((k, v) -> List.copyOf(v));
        return new LoraFile(file, Collections.unmodifiableSet(formats), Collections.unmodifiableMap(byTarget),
                Collections.unmodifiableMap(specs));
    }

    private static void checkPair(SafetensorsFile file, TensorSource model, Pair pair, List<String> problems,
                                  List<LoraPatch> found) {
        String down = pair.stored.get(Role.DOWN), up = pair.stored.get(Role.UP);
        if (down == null || up == null) {
            problems.add("'" + pair.module + "' is incomplete: it has " + String.join(", ", pair.stored.values().stream()
                    .map(n -> "'" + n + "'").toList()) + " but no " + (down == null ? "lora_down/lora_A" : "lora_up/lora_B") + " tensor");
            return;
        }
        String target = pair.targets.get(Role.DOWN);
        long[] t = model.spec(target).shape();
        long[] d = file.entry(down).spec().shape(), u = file.entry(up).spec().shape();
        long rank = d.length >= 2 ? d[0] : -1;
        boolean fits = d.length >= 2 && u.length >= 2 && t.length >= 2 && rank > 0
                && product(u, 1) == rank && u[0] == t[0] && product(d, 1) == product(t, 1);
        if (!fits) {
            problems.add("'" + up + "' " + TensorSpec.format(u) + " and '" + down + "' " + TensorSpec.format(d)
                    + " do not make a delta of the model's '" + target + "' " + TensorSpec.format(t)
                    + " (expected up [" + (t.length > 0 ? t[0] : "?") + ", rank] and down [rank, " + (t.length >= 2 ? product(t, 1) : "?")
                    + "])");
            return;
        }
        OptionalDouble alpha = OptionalDouble.empty();
        String alphaName = pair.stored.get(Role.ALPHA);
        if (alphaName != null) {
            TensorSpec spec = file.entry(alphaName).spec();
            if (spec.numel() != 1) {
                problems.add("'" + alphaName + "' has shape " + TensorSpec.format(spec.shape()) + "; an alpha must be a single number");
                return;
            }
            double a;
            try (PointerScope scope = new PointerScope()) {
                a = file.tensor(alphaName).to(ScalarType.Double).item_double();
            }
            if (!Double.isFinite(a)) {
                problems.add("'" + alphaName + "' is " + a + "; an alpha must be a finite number");
                return;
            }
            alpha = OptionalDouble.of(a);
        }
        LowRank lowRank = new LowRank(target, up, down, rank, alpha);
        found.add(lowRank);
        String bias = pair.stored.get(Role.UP_BIAS);
        if (bias != null) {
            String biasTarget = pair.targets.get(Role.UP_BIAS);
            TensorSpec b = model.spec(biasTarget);
            long[] s = file.entry(bias).spec().shape();
            if (!b.hasShape(s))
                problems.add("'" + bias + "' has shape " + TensorSpec.format(s) + ", but the model's '" + biasTarget
                        + "' has shape " + TensorSpec.format(b.shape()));
            else
                found.add(new Diff(biasTarget, bias, lowRank.scale()));
        }
    }

    private static long product(long[] shape, int from) {
        long n = 1;
        for (int i = from; i < shape.length; i++) n *= shape[i];
        return n;
    }

    public Path path() { return file.path(); }

    /** The key formats the file's names were written in (one, for every file seen so far). */
    public Set<LoraFormat> formats() { return formats; }

    /** The file's __metadata__ (musubi's ss_network_dim, ss_network_alpha, …). */
    public Map<String, String> metadata() { return file.metadata(); }

    /** Every model key the file changes. */
    public Set<String> targets() { return patches.keySet(); }

    /** The shape and dtype the model had under a target when the file was read. */
    public TensorSpec targetSpec(String target) { return targetSpecs.get(target); }

    /** Every patch, grouped by target in the order of the file. */
    public List<LoraPatch> patches() { return patches.values().stream().flatMap(List::stream).toList(); }

    /** The patches of one model key; empty when the file leaves it alone. */
    public List<LoraPatch> patches(String target) { return patches.getOrDefault(target, List.of()); }

    /**
     * This file's delta for a model key at strength 1, in float32 on the given device
     * ({@code Σ scale · up @ down + Σ diff}); a new tensor in the caller's pointer scope, zero
     * where the file does not patch the key. Throws when the model has no such key.
     */
    public Tensor delta(String target, Device device) {
        TensorSpec spec = targetSpecs.get(target);
        if (spec == null) throw new WeightsException("LoRA " + path() + " does not patch '" + target + "'");
        Tensor acc = torch.zeros(spec.shape(), new TensorOptions(ScalarType.Float).device(new DeviceOptional(device)));
        addInto(acc, target, 1.0);
        return acc;
    }

    /**
     * Adds {@code strength ×} this file's delta for {@code target} to {@code acc} (a float32
     * tensor of the target's shape) in place, computing on acc's device.
     */
    void addInto(Tensor acc, String target, double strength) {
        List<LoraPatch> list = patches(target);
        if (list.isEmpty() || strength == 0) return;
        long[] shape = targetSpecs.get(target).shape();
        Device device = acc.device();
        try (PointerScope scope = new PointerScope()) {
            for (LoraPatch p : list) {
                Tensor delta = switch (p) {
                    case LowRank lr -> {
                        Tensor up = load(lr.up(), device).flatten(1, -1);       // up: [out, rank]
                        Tensor down = load(lr.down(), device).flatten(1, -1);   // down: [rank, in]
                        yield up.matmul(down).reshape(shape);                   // [out, in] → target shape
                    }
                    case Diff d -> load(d.tensor(), device);
                };
                acc.add_(delta, new Scalar(strength * p.scale()));
            }
        }
    }

    private Tensor load(String name, Device device) {
        return file.tensor(name).to(device, ScalarType.Float);
    }

    @Override public void close() { file.close(); }

    @Override public String toString() { return "LoRA " + path() + " " + formats; }
}
