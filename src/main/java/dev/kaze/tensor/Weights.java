package dev.kaze.tensor;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * Hands a model builder its tensors by name, converted to the wanted dtype and device, and
 * keeps account: after the build, {@link #finish()} reports every missing key, wrong shape and
 * unconsumed key at once, each with the file it concerns.
 */
public final class Weights {
    private final TensorSource source;         // null for generated weights
    private final Initializer initializer;     // null for weights read from a source
    private final Device device;
    private final Set<String> consumed = new LinkedHashSet<>();
    private final List<String> problems = new ArrayList<>();
    private final List<Tensor> handedOut = new ArrayList<>();
    private final Map<String, Tensor> generated = new LinkedHashMap<>();
    private final Map<String, Tensor> named = new LinkedHashMap<>();
    private Predicate<String> onHost = key -> false;   // keys kept in host memory (block swap)

    public Weights(TensorSource source, Device device) {
        this(source, null, device);
    }

    private Weights(TensorSource source, Initializer initializer, Device device) {
        this.source = source;
        this.initializer = initializer;
        this.device = device;
    }

    /** Values for a parameter that no file holds: a model built from seeded random weights. */
    @FunctionalInterface
    public interface Initializer {
        /** Row-major values for key with the given shape (length = product of shape). */
        float[] values(String key, long[] shape);
    }

    /**
     * Weights generated on demand for whatever a builder takes (the built-in preview model):
     * every key and shape the builder asks for is accepted and filled by the initializer.
     */
    public static Weights generated(Initializer initializer, Device device) {
        return new Weights(null, initializer, device);
    }

    public TensorSource source() { return source; }

    public Device device() { return device; }

    /**
     * Keeps the keys this predicate accepts in host memory instead of on the device: the weights
     * of swapped DiT blocks (whose owner pins the tensors it finally keeps; temporaries such as a
     * float32 weight quantised to float8 stay pageable). Call before taking anything.
     */
    public Weights onHost(Predicate<String> keys) {
        if (!handedOut.isEmpty()) throw new IllegalStateException("onHost must be set before any tensor is taken");
        this.onHost = keys;
        return this;
    }

    public boolean has(String key) { return source == null || source.spec(key) != null; }

    /**
     * The tensor stored under key, checked against the expected shape and converted to dtype on
     * this device. A missing key or a wrong shape is recorded and answered with a meta-device
     * placeholder, so the build goes on and {@link #finish()} can list every problem.
     */
    public Tensor take(String key, ScalarType dtype, long... shape) {
        if (initializer != null) return generate(key, dtype, shape);
        TensorSpec spec = source.spec(key);
        if (spec == null) {
            problems.add("missing key '" + key + "' (expected shape " + TensorSpec.format(shape) + ") in " + source.describe());
            return placeholder(dtype, shape);
        }
        consumed.add(key);
        if (!spec.hasShape(shape)) {
            problems.add("key '" + key + "' in " + source.origin(key) + " has shape " + TensorSpec.format(spec.shape())
                    + ", expected " + TensorSpec.format(shape));
            return placeholder(dtype, shape);
        }
        // Load and convert in a scope of their own, so the stored host copy is freed at once
        // (peak host memory stays one tensor above the model); the result goes to the caller's scope.
        PointerScope outer = PointerScope.getInnerScope();
        Tensor result;
        try (PointerScope inner = new PointerScope()) {
            Tensor stored = source.load(key);
            if (stored.is_meta()) {
                result = Ops.same(stored.scalar_type(), dtype) ? stored : placeholder(dtype, shape);
            } else {
                result = convert(stored, dtype, key);
            }
            if (outer != null) outer.attach(result); else result.retainReference();
        }
        handedOut.add(result);
        if (!result.is_meta()) named.put(key, result);
        return result;
    }

    /** The stored element type of key; null when absent or when the weights are generated. */
    public ScalarType storedType(String key) {
        if (source == null) return null;
        TensorSpec spec = source.spec(key);
        return spec == null ? null : spec.dtype().scalarType();
    }

    /** {@link #take} with the stored shape, whatever it is (the caller checks it). */
    public Tensor takeAnyShape(String key, ScalarType dtype) {
        TensorSpec spec = source == null ? null : source.spec(key);
        if (spec == null) throw new IllegalStateException("takeAnyShape needs a stored key, '" + key + "' is not one");
        return take(key, dtype, spec.shape());
    }

    /** Marks a stored key as read without loading it (a marker such as scaled_fp8); false when absent. */
    public boolean skip(String key) {
        if (source == null || source.spec(key) == null) return false;
        consumed.add(key);
        return true;
    }

    /** Records a problem to be reported by {@link #finish()} with the others. */
    public void problem(String message) { problems.add(message); }

    /**
     * Runs build in a PointerScope of its own: the tensors it returns are handed out (attached to
     * the caller's scope, kept by {@link #keep()}); everything else it took or made is freed when
     * it returns, so a float32 copy quantised to float8 never outlives its conversion.
     */
    public Tensor[] derive(Supplier<Tensor[]> build) {
        PointerScope outer = PointerScope.getInnerScope();
        int before = handedOut.size();
        Tensor[] results;
        try (PointerScope inner = new PointerScope()) {
            results = build.get();
            List<Tensor> temporaries = handedOut.subList(before, handedOut.size());
            generated.values().removeIf(t -> temporaries.stream().anyMatch(x -> x == t));   // freed below
            named.values().removeIf(t -> temporaries.stream().anyMatch(x -> x == t));
            temporaries.clear();
            for (Tensor r : results) {
                if (outer != null) outer.attach(r); else r.retainReference();
                handedOut.add(r);
            }
        }
        return results;
    }

    /**
     * Keeps every tensor handed out so far beyond the PointerScope the model was built in; the
     * model closes the result when it is closed. Build inside a scope so temporaries (stored
     * copies before conversion) are freed when it closes:
     * <pre>try (PointerScope s = new PointerScope()) { ...take...; w.finish(); owned = w.keep(); }</pre>
     */
    public OwnedTensors keep() { return new OwnedTensors(handedOut); }

    private Tensor generate(String key, ScalarType dtype, long[] shape) {
        float[] values = initializer.values(key, shape.clone());
        long n = 1;
        for (long d : shape) n *= d;
        if (values.length != n)
            throw new IllegalStateException("initializer gave " + values.length + " values for '" + key + "' of shape " + TensorSpec.format(shape));
        PointerScope outer = PointerScope.getInnerScope();
        Tensor result;
        try (PointerScope inner = new PointerScope()) {
            Tensor host = torch.empty(shape, new TensorOptions(ScalarType.Float), new MemoryFormatOptional());
            if (n > 0) host.data_ptr_float().put(values);
            result = convert(host, dtype, key);
            if (outer != null) outer.attach(result); else result.retainReference();
        }
        handedOut.add(result);
        generated.put(key, result);
        named.put(key, result);
        return result;
    }

    /**
     * Every key taken so far whose tensor was handed out as it is (read or generated, not a placeholder,
     * not a temporary of {@link #derive}), with that tensor: the model's parameters by checkpoint key,
     * for updating them in place (e.g. merging a LoRA stack without a rebuild).
     */
    public Map<String, Tensor> named() { return Collections.unmodifiableMap(named); }

    /** For generated weights: every key taken so far with its tensor, in order. */
    public Map<String, Tensor> generatedTensors() { return Collections.unmodifiableMap(generated); }

    private Tensor convert(Tensor stored, ScalarType dtype, String key) {
        Device target = device;
        boolean host = device.type().value != torch.DeviceType.CPU.value && onHost.test(key);
        if (host) target = new Device(torch.DeviceType.CPU);
        boolean sameType = Ops.same(stored.scalar_type(), dtype);
        boolean sameDevice = stored.device().type().value == target.type().value
                && (!target.has_index() || stored.device().index() == target.index());
        return sameType && sameDevice ? stored : stored.to(target, dtype, false, false, new MemoryFormatOptional());
    }

    private static Tensor placeholder(ScalarType dtype, long... shape) {
        TensorOptions o = new TensorOptions(dtype).device(new DeviceOptional(new Device(torch.DeviceType.Meta)));
        return torch.empty(shape, o, new MemoryFormatOptional());
    }

    /** Every problem so far plus every key nobody took; throws when there is any. */
    public void finish() {
        if (source == null) return;
        List<String> all = new ArrayList<>(problems);
        for (String k : source.keys())
            if (!consumed.contains(k)) all.add("unexpected key '" + k + "' in " + source.origin(k) + " (the model has no such parameter)");
        if (!all.isEmpty())
            throw new WeightsException(all.size() + " problem(s) loading " + source.describe() + ":\n  - "
                    + String.join("\n  - ", all));
    }
}
