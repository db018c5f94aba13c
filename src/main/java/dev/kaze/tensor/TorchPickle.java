package dev.kaze.tensor;

import net.razorvine.pickle.IObjectConstructor;
import net.razorvine.pickle.Opcodes;
import net.razorvine.pickle.PickleException;
import net.razorvine.pickle.PickleUtils;
import net.razorvine.pickle.Unpickler;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads the {@code data.pkl} of a torch.save archive into plain descriptions of tensors, without
 * running any code: every Python global the pickle names is looked up in a fixed allow-list when its
 * opcode is read, and anything else stops the read before a single object is built.
 */
final class TorchPickle {
    /** A storage as the pickle refers to it: the archive entry {@code data/<key>} holding numel elements. */
    record Storage(DType dtype, String key, long numel) {}

    /** A tensor view onto a storage, as {@code torch._utils._rebuild_tensor_v2} receives it. */
    record Stored(Storage storage, long offset, long[] size, long[] stride) {
        Stored {
            size = size.clone();
            stride = stride.clone();
        }

        @Override public long[] size() { return size.clone(); }

        @Override public long[] stride() { return stride.clone(); }

        TensorSpec spec() { return new TensorSpec(storage.dtype(), size); }

        /** Row-major contiguous, ignoring dimensions of size 1 (as torch's is_contiguous does). */
        boolean contiguous() {
            long expected = 1;
            for (int i = size.length - 1; i >= 0; i--) {
                if (size[i] == 0) return true;
                if (size[i] != 1 && stride[i] != expected) return false;
                expected = Math.multiplyExact(expected, size[i]);
            }
            return true;
        }

        /** How many elements of the storage, from its start, this view reaches. */
        long extent() {
            long last = offset;
            for (int i = 0; i < size.length; i++) {
                if (size[i] == 0) return offset;
                last = Math.addExact(last, Math.multiplyExact(size[i] - 1, stride[i]));
            }
            return Math.addExact(last, 1);
        }
    }

    /** The torch storage classes a persistent id may name, by the global's {@code module.name}. */
    static final Map<String, DType> STORAGE_CLASSES = Map.ofEntries(
            Map.entry("torch.DoubleStorage", DType.F64),
            Map.entry("torch.FloatStorage", DType.F32),
            Map.entry("torch.HalfStorage", DType.F16),
            Map.entry("torch.BFloat16Storage", DType.BF16),
            Map.entry("torch.Float8_e4m3fnStorage", DType.F8_E4M3),
            Map.entry("torch.Float8_e5m2Storage", DType.F8_E5M2),
            Map.entry("torch.LongStorage", DType.I64),
            Map.entry("torch.IntStorage", DType.I32),
            Map.entry("torch.ShortStorage", DType.I16),
            Map.entry("torch.CharStorage", DType.I8),
            Map.entry("torch.ByteStorage", DType.U8),
            Map.entry("torch.BoolStorage", DType.BOOL));

    private TorchPickle() {}

    /** Every Python global a checkpoint may name, as {@code module.name}. */
    static List<String> allowedGlobals() {
        List<String> all = new ArrayList<>(List.of("collections.OrderedDict", "torch._utils._rebuild_tensor_v2",
                "torch._utils._rebuild_tensor", "torch._utils._rebuild_parameter"));
        all.addAll(STORAGE_CLASSES.keySet().stream().sorted().toList());
        return all;
    }

    /**
     * The state dict in {@code pickle} (the bytes of {@code entry} in {@code path}): name to tensor, in
     * pickle order. Throws a WeightsException naming the file for a disallowed global or any other shape.
     */
    static Map<String, Stored> read(Path path, String entry, byte[] pickle) {
        Object root;
        Restricted unpickler = new Restricted(path, entry);
        try {
            root = unpickler.loads(pickle);
        } catch (WeightsException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            throw new WeightsException("PyTorch checkpoint " + path + " has a " + entry + " that cannot be read as a state dict: "
                    + e.getMessage() + " (damaged file, or not a torch.save of a state dict)", e);
        } finally {
            unpickler.close();
        }
        if (!(root instanceof Map<?, ?> map))
            throw new WeightsException("PyTorch checkpoint " + path + " holds a " + typeName(root) + ", not a state dict "
                    + "(a dict of name to tensor); save model.state_dict() instead");
        Map<String, Stored> out = new LinkedHashMap<>();
        for (var e : map.entrySet()) {
            if (!(e.getKey() instanceof String name))
                throw new WeightsException("PyTorch checkpoint " + path + " has a state dict key that is a " + typeName(e.getKey())
                        + ", not a string");
            if (!(e.getValue() instanceof Stored t))
                throw new WeightsException("PyTorch checkpoint " + path + " holds a " + typeName(e.getValue()) + " under '" + name
                        + "', not a tensor; Kaze reads flat state dicts (name to tensor) such as model.state_dict()");
            out.put(name, t);
        }
        return Collections.unmodifiableMap(out);
    }

    private static String typeName(Object o) {
        return switch (o) {
            case null -> "None";
            case Map<?, ?> m -> "dict";
            case Object[] a -> "tuple";
            case List<?> l -> "list";
            case String s -> "str";
            case Number n -> "number";
            case Boolean b -> "bool";
            case Storage s -> "storage";
            case Global g -> "reference to " + g.name;
            default -> o.getClass().getSimpleName();
        };
    }

    /** A callable the pickle may name; construct() is what calling it in Python would produce. */
    private abstract static sealed class Global implements IObjectConstructor permits OrderedDict, RebuildTensor,
            RebuildParameter, StorageClass {
        final String name;

        Global(String name) { this.name = name; }

        PickleException wrongArgs(Object[] args, String expected) {
            return new PickleException(name + " called with " + args.length + " arguments (" + expected + " expected)");
        }
    }

    private static final class OrderedDict extends Global {
        OrderedDict() { super("collections.OrderedDict"); }

        @Override public Object construct(Object[] args) {
            if (args.length != 0) throw wrongArgs(args, "none");
            return new LinkedHashMap<>();
        }
    }

    /** _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]), or the v1 form. */
    private static final class RebuildTensor extends Global {
        private final boolean v2;

        RebuildTensor(boolean v2) {
            super(v2 ? "torch._utils._rebuild_tensor_v2" : "torch._utils._rebuild_tensor");
            this.v2 = v2;
        }

        @Override public Object construct(Object[] args) {
            if (v2 ? args.length != 6 && args.length != 7 : args.length != 4)
                throw wrongArgs(args, v2 ? "6 or 7" : "4");
            if (!(args[0] instanceof Storage storage))
                throw new PickleException(name + " got a " + typeName(args[0]) + " where a storage belongs");
            long offset = integer(args[1], "storage_offset");
            long[] size = integers(args[2], "size");
            long[] stride = integers(args[3], "stride");
            if (size.length != stride.length)
                throw new PickleException(name + " got size " + TensorSpec.format(size) + " and stride " + TensorSpec.format(stride)
                        + " of different lengths");
            if (offset < 0) throw new PickleException(name + " got a negative storage_offset " + offset);
            for (int i = 0; i < size.length; i++)
                if (size[i] < 0 || stride[i] < 0)
                    throw new PickleException(name + " got a negative size or stride: " + TensorSpec.format(size) + " / "
                            + TensorSpec.format(stride));
            if (v2 && args[5] instanceof Map<?, ?> hooks && !hooks.isEmpty())
                throw new PickleException(name + " got backward hooks, which Kaze does not run");
            return new Stored(storage, offset, size, stride);
        }
    }

    /** _rebuild_parameter(data, requires_grad, backward_hooks): a Parameter is just its tensor here. */
    private static final class RebuildParameter extends Global {
        RebuildParameter() { super("torch._utils._rebuild_parameter"); }

        @Override public Object construct(Object[] args) {
            if (args.length != 3) throw wrongArgs(args, "3");
            if (!(args[0] instanceof Stored t)) throw new PickleException(name + " got a " + typeName(args[0]) + " where a tensor belongs");
            if (args[2] instanceof Map<?, ?> hooks && !hooks.isEmpty())
                throw new PickleException(name + " got backward hooks, which Kaze does not run");
            return t;
        }
    }

    /** A storage class: it only tags persistent ids with a dtype and is never called. */
    private static final class StorageClass extends Global {
        final DType dtype;

        StorageClass(String name, DType dtype) {
            super(name);
            this.dtype = dtype;
        }

        @Override public Object construct(Object[] args) {
            throw new PickleException(name + " is called in the pickle; torch.save only uses it to tag storages");
        }
    }

    private static Global allowed(String module, String name) {
        String full = module + "." + name;
        DType storage = STORAGE_CLASSES.get(full);
        if (storage != null) return new StorageClass(full, storage);
        return switch (full) {
            case "collections.OrderedDict" -> new OrderedDict();
            case "torch._utils._rebuild_tensor_v2" -> new RebuildTensor(true);
            case "torch._utils._rebuild_tensor" -> new RebuildTensor(false);
            case "torch._utils._rebuild_parameter" -> new RebuildParameter();
            default -> null;
        };
    }

    static long integer(Object o, String what) {
        if (o instanceof Integer || o instanceof Long || o instanceof Short || o instanceof Byte) return ((Number) o).longValue();
        if (o instanceof BigInteger b && b.bitLength() < 64) return b.longValue();
        throw new PickleException(what + " is a " + typeName(o) + " (" + o + "), not a 64-bit integer");
    }

    private static long[] integers(Object o, String what) {
        if (!(o instanceof Object[] tuple)) throw new PickleException(what + " is a " + typeName(o) + ", not a tuple");
        long[] out = new long[tuple.length];
        for (int i = 0; i < tuple.length; i++) out[i] = integer(tuple[i], what + "[" + i + "]");
        return out;
    }

    /**
     * Pyrolite's unpickler with the opcodes that name globals, build objects or make dicts taken over:
     * globals resolve only through {@link #allowed}, dicts keep their insertion order, and BUILD is
     * accepted only for the {@code _metadata} torch attaches to an OrderedDict.
     */
    private static final class Restricted extends Unpickler {
        private final Path path;
        private final String entry;

        Restricted(Path path, String entry) {
            this.path = path;
            this.entry = entry;
        }

        @Override protected Object dispatch(short key) throws PickleException, IOException {
            switch (key) {
                case Opcodes.GLOBAL -> {
                    String module = PickleUtils.readline(input), name = PickleUtils.readline(input);
                    stack.add(resolve(module, name));
                }
                case Opcodes.STACK_GLOBAL -> {
                    Object name = stack.pop(), module = stack.pop();
                    if (!(module instanceof String m) || !(name instanceof String n))
                        throw new PickleException("STACK_GLOBAL with a non-string module or name");
                    stack.add(resolve(m, n));
                }
                case Opcodes.INST -> {
                    String module = PickleUtils.readline(input), name = PickleUtils.readline(input);
                    Global g = resolve(module, name);
                    stack.add(g.construct(stack.pop_all_since_marker().toArray()));
                }
                case Opcodes.EXT1, Opcodes.EXT2, Opcodes.EXT4 ->
                        throw refusal("a copyreg extension code (opcode EXT" + (key == Opcodes.EXT1 ? 1 : key == Opcodes.EXT2 ? 2 : 4)
                                + ")", "an extension code names an arbitrary global");
                case Opcodes.EMPTY_DICT -> stack.add(new LinkedHashMap<>());
                case Opcodes.DICT -> {
                    List<Object> items = stack.pop_all_since_marker();
                    stack.add(putAll(new LinkedHashMap<>(), items));
                }
                case Opcodes.SETITEMS -> {
                    List<Object> items = stack.pop_all_since_marker();
                    putAll(dict(stack.peek()), items);
                }
                case Opcodes.SETITEM -> {
                    Object value = stack.pop(), k = stack.pop();
                    dict(stack.peek()).put(k, value);
                }
                case Opcodes.BUILD -> {
                    Object state = stack.pop();
                    if (!(stack.peek() instanceof LinkedHashMap<?, ?>))
                        throw new PickleException("BUILD (__setstate__) on a " + typeName(stack.peek())
                                + "; only the _metadata of an OrderedDict is accepted");
                    // torch.save attaches the module metadata of a state dict here; tensors do not depend on it
                }
                default -> {
                    return super.dispatch(key);
                }
            }
            return NO_RETURN_VALUE;
        }

        private Global resolve(String module, String name) {
            Global g = allowed(module, name);
            if (g == null) throw refusal("the Python global '" + module + "." + name + "'", null);
            return g;
        }

        private WeightsException refusal(String what, String why) {
            return new WeightsException("PyTorch checkpoint " + path + " is refused: its " + entry + " refers to " + what
                    + (why == null ? ", which is not part of a plain state dict" : " (" + why + ")")
                    + ". Kaze never runs code from a checkpoint and accepts only these globals: "
                    + String.join(", ", allowedGlobals())
                    + ". Load the file in Python only if you trust it, and re-save its state dict as safetensors");
        }

        @SuppressWarnings("unchecked")
        private static Map<Object, Object> dict(Object o) {
            if (o instanceof Map<?, ?> m) return (Map<Object, Object>) m;
            throw new PickleException("SETITEM on a " + typeName(o) + ", not a dict");
        }

        private static Map<Object, Object> putAll(Map<Object, Object> map, List<Object> items) {
            if (items.size() % 2 != 0) throw new PickleException("dict items with an odd count " + items.size());
            for (int i = 0; i < items.size(); i += 2) map.put(items.get(i), items.get(i + 1));
            return map;
        }

        /** ('storage', storage class, key, location, numel), the persistent id torch.save writes per storage. */
        @Override protected Object persistentLoad(Object pid) {
            if (!(pid instanceof Object[] t) || t.length != 5 || !"storage".equals(t[0]))
                throw new PickleException("a persistent id that is not ('storage', type, key, location, numel)");
            if (!(t[1] instanceof StorageClass type))
                throw new PickleException("a storage whose type is a " + typeName(t[1]) + ", not a torch storage class");
            if (!(t[2] instanceof String storageKey) || storageKey.isEmpty() || storageKey.contains("/") || storageKey.contains(".."))
                throw new PickleException("a storage key " + t[2] + " that is not a plain archive name");
            long numel = integer(t[4], "storage numel");
            if (numel < 0) throw new PickleException("a storage of negative size " + numel);
            return new Storage(type.dtype, storageKey, numel);
        }
    }
}
