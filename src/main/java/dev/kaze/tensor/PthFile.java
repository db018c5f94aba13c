package dev.kaze.tensor;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A PyTorch checkpoint written by {@code torch.save} (the zip format of torch 1.6 and later), such as
 * {@code models_t5_umt5-xxl-enc-bf16.pth} and {@code Wan2.1_VAE.pth}, read as a flat state dict.
 * The pickle is read with an allow-list of globals, so no code from the file ever runs; the storages
 * are read straight from the memory-mapped archive (FFM, so files above 2 GiB map whole).
 */
public final class PthFile implements TensorSource {
    /** A data.pkl above this size is refused; a state dict's pickle is a few hundred KiB. */
    public static final long MAX_PICKLE_BYTES = 256L << 20;

    private final Path path;
    private final Arena arena;
    private final MemorySegment file;
    private final Map<String, TorchPickle.Stored> tensors;
    private final Map<String, StoredZip.Entry> storages;

    private PthFile(Path path, Arena arena, MemorySegment file, Map<String, TorchPickle.Stored> tensors,
                    Map<String, StoredZip.Entry> storages) {
        this.path = path;
        this.arena = arena;
        this.file = file;
        this.tensors = tensors;
        this.storages = storages;
    }

    /**
     * Opens and validates a .pth file: the zip directory, the pickle (refusing any global outside the
     * allow-list), and that every tensor's storage entry exists and is long enough.
     */
    public static PthFile open(Path path) {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size == 0) throw bad(path, "is empty (an incomplete download?)");
            MemorySegment file = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            Map<String, StoredZip.Entry> zip = StoredZip.read(path, file);

            List<StoredZip.Entry> pickles = new ArrayList<>();
            for (StoredZip.Entry e : zip.values())
                if (e.name().equals("data.pkl") || e.name().endsWith("/data.pkl")) pickles.add(e);
            if (pickles.size() != 1)
                throw bad(path, "must hold exactly one <archive>/data.pkl entry, as torch.save writes; it holds " + pickles.size()
                        + (pickles.isEmpty() ? " (is it a torch.save checkpoint? a TorchScript or other zip is not)" : ""));
            StoredZip.Entry pkl = pickles.getFirst();
            String prefix = pkl.name().substring(0, pkl.name().length() - "data.pkl".length());

            StoredZip.Entry byteorder = zip.get(prefix + "byteorder");
            if (byteorder != null) {
                String order = new String(bytes(file, byteorder), StandardCharsets.US_ASCII).strip();
                if (!order.equals("little"))
                    throw bad(path, "stores its tensors in '" + order + "' byte order; Kaze reads little-endian checkpoints "
                            + "only. Re-save it on a little-endian machine, or convert it to safetensors");
            }
            if (pkl.size() > MAX_PICKLE_BYTES)
                throw bad(path, "has a " + pkl.name() + " of " + pkl.size() + " bytes (allowed: up to " + MAX_PICKLE_BYTES
                        + "); a state dict's pickle is far smaller");

            Map<String, TorchPickle.Stored> tensors = TorchPickle.read(path, pkl.name(), bytes(file, pkl));
            Map<String, StoredZip.Entry> storages = new HashMap<>();
            for (var t : tensors.entrySet()) {
                String key = t.getKey();
                TorchPickle.Stored s = t.getValue();
                String entryName = prefix + "data/" + s.storage().key();
                StoredZip.Entry entry = zip.get(entryName);
                if (entry == null)
                    throw bad(path, "has tensor '" + key + "' in storage " + s.storage().key() + ", but no archive entry "
                            + entryName + " holds that storage (damaged or incomplete file)");
                checkExtent(path, key, s, entry);
                storages.put(s.storage().key(), entry);
            }
            return new PthFile(path, arena, file, tensors, Collections.unmodifiableMap(storages));
        } catch (IOException e) {
            arena.close();
            throw new WeightsException("cannot read PyTorch checkpoint " + path + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static void checkExtent(Path path, String key, TorchPickle.Stored s, StoredZip.Entry entry) {
        DType dtype = s.storage().dtype();
        long needed, neededBytes, declaredBytes;
        try {
            s.spec().byteSize();
            needed = s.extent();
            neededBytes = Math.multiplyExact(needed, (long) dtype.size());
            declaredBytes = Math.multiplyExact(s.storage().numel(), (long) dtype.size());
        } catch (ArithmeticException e) {
            throw bad(path, "has tensor '" + key + "' with size " + TensorSpec.format(s.size()) + " and stride "
                    + TensorSpec.format(s.stride()) + " too large to address");
        }
        String view = "tensor '" + key + "' (" + dtype.code() + TensorSpec.format(s.size()) + ", storage offset " + s.offset()
                + ", stride " + TensorSpec.format(s.stride()) + ") needs " + needed + " elements = " + neededBytes
                + " bytes of storage " + s.storage().key();
        if (entry.size() < neededBytes)
            throw bad(path, "is truncated or damaged: " + view + ", but its entry " + entry.name() + " holds only "
                    + entry.size() + " bytes");
        if (needed > s.storage().numel())
            throw bad(path, "is damaged: " + view + ", but the pickle declares that storage with " + s.storage().numel()
                    + " elements");
        if (entry.size() != declaredBytes)
            throw bad(path, "is damaged: storage " + s.storage().key() + " is declared as " + s.storage().numel() + " "
                    + dtype.code() + " elements = " + declaredBytes + " bytes, but its entry " + entry.name() + " holds "
                    + entry.size() + " bytes");
    }

    private static byte[] bytes(MemorySegment file, StoredZip.Entry e) {
        return file.asSlice(e.offset(), e.size()).toArray(ValueLayout.JAVA_BYTE);
    }

    private static WeightsException bad(Path path, String what) {
        return new WeightsException("PyTorch checkpoint " + path + " " + what);
    }

    public Path path() { return path; }

    /** Keys in the order of the state dict. */
    @Override public Set<String> keys() { return tensors.keySet(); }

    @Override public TensorSpec spec(String key) {
        TorchPickle.Stored s = tensors.get(key);
        return s == null ? null : s.spec();
    }

    /**
     * A new CPU tensor with a copy of the stored values in their stored dtype. A view that is not
     * contiguous in its storage is materialised contiguously.
     */
    @Override public Tensor load(String key) {
        TorchPickle.Stored s = tensors.get(key);
        if (s == null) throw new WeightsException(describe() + " has no tensor '" + key + "'");
        StoredZip.Entry entry = storages.get(s.storage().key());
        DType dtype = s.storage().dtype();
        long es = dtype.size();
        TensorOptions options = new TensorOptions(dtype.scalarType());
        if (s.contiguous()) {
            Tensor t = torch.empty(s.size(), options, new MemoryFormatOptional());
            copy(entry.offset() + s.offset() * es, t, s.spec().byteSize());
            return t;
        }
        PointerScope outer = PointerScope.getInnerScope();
        try (PointerScope inner = new PointerScope()) {
            long extent = s.extent();
            Tensor whole = torch.empty(new long[] {extent}, options, new MemoryFormatOptional());
            copy(entry.offset(), whole, extent * es);
            Tensor t = torch.as_strided(whole, s.size(), s.stride()).contiguous();
            if (outer != null) outer.attach(t);
            else t.retainReference();
            return t;
        }
    }

    private void copy(long from, Tensor to, long n) {
        if (n == 0) return;
        MemorySegment dst = MemorySegment.ofAddress(to.data_ptr().address()).reinterpret(n);
        MemorySegment.copy(file, from, dst, 0, n);
    }

    @Override public String origin(String key) { return path.toString(); }

    @Override public String describe() { return "PyTorch checkpoint " + path; }

    @Override public void close() { arena.close(); }
}
