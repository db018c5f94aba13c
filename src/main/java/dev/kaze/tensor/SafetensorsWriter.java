package dev.kaze.tensor;

import dev.kaze.json.Json;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * Writes safetensors files: the tensors in the map's iteration order, data offsets contiguous
 * from 0, little-endian values, the header padded with spaces so the data area starts on an
 * 8-byte boundary, and string metadata under {@code __metadata__}. The file is written beside
 * its destination under a temporary name and renamed into place, so readers never see half a
 * file and a failed write leaves any previous file untouched.
 */
public final class SafetensorsWriter {
    private static final long CHUNK = 64L << 20;
    private static final SecureRandom RANDOM = new SecureRandom();

    private SafetensorsWriter() {}

    public static void write(Path path, Map<String, Tensor> tensors) { write(path, tensors, Map.of()); }

    /**
     * Writes tensors (any dtype of {@link DType}, on any device; non-CPU or non-contiguous ones
     * are copied to contiguous CPU memory one at a time) and metadata to path, replacing it
     * atomically. Missing parent directories are created.
     */
    public static void write(Path path, Map<String, Tensor> tensors, Map<String, String> metadata) {
        if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN)
            throw new WeightsException("cannot write safetensors file " + path + ": this machine is big-endian");
        Path target = path.toAbsolutePath();
        List<Placed> placed = place(target, tensors);
        byte[] header = header(target, placed, metadata);

        Path dir = target.getParent();
        Path tmp = null;
        try {
            Files.createDirectories(dir);
            tmp = dir.resolve("." + target.getFileName() + "." + HexFormat.of().toHexDigits(RANDOM.nextLong()) + ".tmp");
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, header.length);
                writeFully(ch, len);
                writeFully(ch, ByteBuffer.wrap(header));
                for (Placed p : placed) writeValues(ch, target, p);
                ch.force(true);
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            tmp = null;
            syncDirectory(dir);
        } catch (IOException e) {
            throw new WeightsException("cannot write safetensors file " + target + ": " + e
                    + " (check that the directory is writable and the disk has room)", e);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // the write already failed; that error is the one to report
                }
            }
        }
    }

    /** One tensor with its place in the data area. */
    private record Placed(String name, Tensor tensor, TensorSpec spec, long begin, long end) {}

    private static List<Placed> place(Path target, Map<String, Tensor> tensors) {
        List<Placed> placed = new ArrayList<>(tensors.size());
        long offset = 0;
        for (var e : tensors.entrySet()) {
            String name = e.getKey();
            Tensor t = e.getValue();
            if (name == null) throw refuse(target, "a tensor name is null");
            if (name.equals("__metadata__")) throw refuse(target, "'__metadata__' is reserved and cannot name a tensor");
            if (t == null || t.isNull() || !t.defined()) throw refuse(target, "tensor '" + name + "' is null or undefined");
            if (t.is_meta())
                throw refuse(target, "tensor '" + name + "' is on the meta device and has no values to write");
            if (t.layout().intern() != torch.Layout.Strided || t.is_quantized() || t.is_nested() || t.is_mkldnn())
                throw refuse(target, "tensor '" + name + "' has layout " + t.layout()
                        + "; only dense strided tensors can be written (call to_dense() first)");
            DType dtype;
            try {
                dtype = DType.of(t.scalar_type());
            } catch (IllegalArgumentException ex) {
                throw refuse(target, "tensor '" + name + "' has dtype " + t.scalar_type()
                        + ", which safetensors files here cannot hold; convert it to one of F64, F32, F16, BF16, "
                        + "F8_E4M3, F8_E5M2, I64, I32, I16, I8, U8, BOOL");
            }
            long[] shape = new long[(int) t.dim()];
            for (int i = 0; i < shape.length; i++) shape[i] = t.size(i);
            TensorSpec spec = new TensorSpec(dtype, shape);
            long end = Math.addExact(offset, spec.byteSize());
            placed.add(new Placed(name, t, spec, offset, end));
            offset = end;
        }
        return placed;
    }

    private static byte[] header(Path target, List<Placed> placed, Map<String, String> metadata) {
        ObjectNode root = Json.MAPPER.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode meta = root.putObject("__metadata__");
            for (var m : metadata.entrySet()) {
                if (m.getKey() == null || m.getValue() == null)
                    throw refuse(target, "metadata entry '" + m.getKey() + "' has a null key or value");
                meta.put(m.getKey(), m.getValue());
            }
        }
        for (Placed p : placed) {
            ObjectNode entry = root.putObject(p.name());
            entry.put("dtype", p.spec().dtype().code());
            ArrayNode shape = entry.putArray("shape");
            for (long s : p.spec().shape()) shape.add(s);
            entry.putArray("data_offsets").add(p.begin()).add(p.end());
        }
        byte[] json = Json.MAPPER.writeValueAsBytes(root);
        long padded = (json.length + 7L) & ~7L;
        if (padded > SafetensorsFile.MAX_HEADER_BYTES)
            throw refuse(target, "its header would be " + padded + " bytes, above the limit of "
                    + SafetensorsFile.MAX_HEADER_BYTES + " (too many tensors or too much metadata)");
        byte[] header = new byte[(int) padded];
        System.arraycopy(json, 0, header, 0, json.length);
        for (int i = json.length; i < header.length; i++) header[i] = ' ';
        return header;
    }

    private static void writeValues(FileChannel ch, Path target, Placed p) throws IOException {
        long n = p.end() - p.begin();
        if (n == 0) return;
        try (PointerScope scope = new PointerScope()) {
            Tensor t = p.tensor();
            if (!t.is_cpu()) t = t.cpu();
            if (t.is_conj()) t = t.resolve_conj();
            if (t.is_neg()) t = t.resolve_neg();
            if (!t.is_contiguous()) t = t.contiguous();
            if (t.nbytes() != n)
                throw refuse(target, "tensor '" + p.name() + "' holds " + t.nbytes() + " bytes after copying to the CPU, expected " + n);
            MemorySegment values = MemorySegment.ofAddress(t.data_ptr().address()).reinterpret(n);
            for (long off = 0; off < n; off += CHUNK)
                writeFully(ch, values.asSlice(off, Math.min(CHUNK, n - off)).asByteBuffer());
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) ch.write(buf);
    }

    private static void syncDirectory(Path dir) {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException | UnsupportedOperationException ignored) {
            // not every file system lets a directory be synced; the rename has happened either way
        }
    }

    private static WeightsException refuse(Path target, String why) {
        return new WeightsException("cannot write safetensors file " + target + ": " + why);
    }
}
