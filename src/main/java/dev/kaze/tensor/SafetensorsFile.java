package dev.kaze.tensor;

import dev.kaze.json.Json;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One memory-mapped safetensors file (FFM, so files above 2 GiB map whole). The header is
 * validated before anything in it is trusted: its length (inside the file, below
 * {@link #MAX_HEADER_BYTES}), UTF-8 JSON without duplicate keys, every dtype, shape and offset
 * (inside the data area, not overlapping, spanning exactly shape x dtype size). Bytes after the
 * last tensor are allowed. Every read goes through bounds-checked segments of the mapping.
 */
public final class SafetensorsFile implements AutoCloseable {
    /** Headers above this size are refused; real checkpoints stay far below it. */
    public static final long MAX_HEADER_BYTES = 100L << 20;
    private static final Pattern DUPLICATE = Pattern.compile("Duplicate Object property \"(.*)\"", Pattern.DOTALL);

    /** One entry of the header. Offsets are relative to the start of the data area. */
    public record Entry(String name, TensorSpec spec, long begin, long end) {}

    private final Path path;
    private final Arena arena;
    private final MemorySegment data;
    private final Map<String, Entry> entries;
    private final Map<String, String> metadata;
    private volatile boolean closed;

    private SafetensorsFile(Path path, Arena arena, MemorySegment data, Map<String, Entry> entries,
                            Map<String, String> metadata) {
        this.path = path;
        this.arena = arena;
        this.data = data;
        this.entries = entries;
        this.metadata = metadata;
    }

    public static SafetensorsFile open(Path path) {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) throw bad(path, "is " + size + " bytes long, shorter than the 8-byte header length");
            MemorySegment file = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            long headerLen = file.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
            if (headerLen < 2 || headerLen > MAX_HEADER_BYTES)
                throw bad(path, "declares a header of " + headerLen + " bytes (allowed: 2 to " + MAX_HEADER_BYTES + ")");
            if (8 + headerLen > size)
                throw bad(path, "declares a header of " + headerLen + " bytes but the file has only " + (size - 8)
                        + " bytes after the length field (truncated file? download it again)");
            byte[] headerBytes = file.asSlice(8, headerLen).toArray(ValueLayout.JAVA_BYTE);
            MemorySegment data = file.asSlice(8 + headerLen);
            Map<String, String> metadata = new LinkedHashMap<>();
            Map<String, Entry> entries = parseHeader(path, headerBytes, data.byteSize(), metadata);
            return new SafetensorsFile(path, arena, data, entries, Collections.unmodifiableMap(metadata));
        } catch (NoSuchFileException e) {
            arena.close();
            throw new WeightsException("safetensors file " + path + " does not exist; check the configured path", e);
        } catch (IOException e) {
            arena.close();
            throw new WeightsException("cannot read safetensors file " + path + ": " + e, e);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static Map<String, Entry> parseHeader(Path path, byte[] headerBytes, long dataSize,
                                                  Map<String, String> metadata) {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(headerBytes)).toString();
        } catch (CharacterCodingException e) {
            throw bad(path, "has a header that is not UTF-8 text (not a safetensors file?)");
        }
        JsonNode root;
        try {
            root = Json.MAPPER.readTree(text);
        } catch (JacksonException e) {
            String msg = String.valueOf(e.getOriginalMessage());
            Matcher dup = DUPLICATE.matcher(msg);
            if (dup.find())
                throw bad(path, "has a header that names '" + dup.group(1) + "' twice; the file is corrupt or was "
                        + "written by a broken tool, so it cannot be trusted");
            throw bad(path, "has a header that is not valid JSON (" + msg.lines().findFirst().orElse(msg)
                    + "); the file is corrupt or not a safetensors file");
        }
        if (root == null || !root.isObject()) throw bad(path, "has a header that is not a JSON object");
        Map<String, Entry> entries = new LinkedHashMap<>();
        for (var field : root.properties()) {
            String name = field.getKey();
            JsonNode node = field.getValue();
            if (name.equals("__metadata__")) {
                if (!node.isObject()) throw bad(path, "has a __metadata__ entry that is not an object");
                for (var m : node.properties()) {
                    if (!m.getValue().isString())
                        throw bad(path, "has a non-string __metadata__ value for '" + m.getKey() + "'");
                    metadata.put(m.getKey(), m.getValue().asString());
                }
                continue;
            }
            entries.put(name, parseEntry(path, name, node, dataSize));
        }
        // Empty tensors occupy no bytes and overlap nothing; every other range must start at or
        // after the furthest end seen so far (not just the previous range's end).
        List<Entry> byOffset = new ArrayList<>();
        for (Entry e : entries.values()) if (e.end() > e.begin()) byOffset.add(e);
        byOffset.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        Entry furthest = null;
        for (Entry cur : byOffset) {
            if (furthest != null && cur.begin() < furthest.end())
                throw bad(path, "tensor '" + cur.name() + "' (bytes " + cur.begin() + ".." + cur.end()
                        + ") overlaps tensor '" + furthest.name() + "' (bytes " + furthest.begin() + ".." + furthest.end()
                        + "); the header is corrupt");
            if (furthest == null || cur.end() > furthest.end()) furthest = cur;
        }
        return Collections.unmodifiableMap(entries);
    }

    private static Entry parseEntry(Path path, String name, JsonNode node, long dataSize) {
        if (!node.isObject()) throw bad(path, "tensor '" + name + "' has a header entry that is not an object");
        JsonNode dt = node.get("dtype"), sh = node.get("shape"), off = node.get("data_offsets");
        if (dt == null || !dt.isString()) throw bad(path, "tensor '" + name + "' has no dtype");
        DType dtype = DType.ofCode(dt.asString());
        if (dtype == null)
            throw bad(path, "tensor '" + name + "' has unknown dtype '" + dt.asString() + "' (known: F64, F32, F16, BF16, "
                    + "F8_E4M3, F8_E5M2, I64, I32, I16, I8, U8, BOOL)");
        if (sh == null || !sh.isArray()) throw bad(path, "tensor '" + name + "' has no shape array");
        long[] shape = new long[sh.size()];
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = sh.get(i);
            if (!d.isIntegralNumber() || !d.canConvertToLong() || d.asLong() < 0)
                throw bad(path, "tensor '" + name + "' has an invalid shape " + sh);
            shape[i] = d.asLong();
        }
        if (off == null || !off.isArray() || off.size() != 2 || !off.get(0).isIntegralNumber()
                || !off.get(1).isIntegralNumber() || !off.get(0).canConvertToLong() || !off.get(1).canConvertToLong())
            throw bad(path, "tensor '" + name + "' has invalid data_offsets " + off);
        long begin = off.get(0).asLong(), end = off.get(1).asLong();
        if (begin < 0 || end < begin)
            throw bad(path, "tensor '" + name + "' has invalid data_offsets [" + begin + ", " + end + "]");
        if (end > dataSize)
            throw bad(path, "tensor '" + name + "' has data_offsets [" + begin + ", " + end
                    + "] outside the data area of " + dataSize + " bytes (truncated file? download it again)");
        TensorSpec spec = new TensorSpec(dtype, shape);
        long expected;
        try {
            expected = spec.byteSize();
        } catch (ArithmeticException e) {
            throw bad(path, "tensor '" + name + "' has a shape " + sh + " too large to address");
        }
        if (end - begin != expected)
            throw bad(path, "tensor '" + name + "' is " + dtype.code() + TensorSpec.format(shape) + " = " + expected
                    + " bytes, but its data_offsets span " + (end - begin) + " bytes");
        return new Entry(name, spec, begin, end);
    }

    private static WeightsException bad(Path path, String what) {
        return new WeightsException("safetensors file " + path + " " + what);
    }

    public Path path() { return path; }

    public Map<String, String> metadata() { return metadata; }

    /** Entries in header order. */
    public Map<String, Entry> entries() { return entries; }

    public Entry entry(String name) {
        if (closed) throw new WeightsException("safetensors file " + path + " is closed; cannot read tensor '" + name + "'");
        Entry e = entries.get(name);
        if (e == null) throw new WeightsException("safetensors file " + path + " has no tensor '" + name + "'");
        return e;
    }

    /** The stored bytes of one tensor (a view of the mapping; valid until close). */
    public MemorySegment bytes(String name) {
        Entry e = entry(name);
        return data.asSlice(e.begin(), e.end() - e.begin());
    }

    /** A new CPU tensor with a copy of the stored values in their stored dtype. */
    public Tensor tensor(String name) {
        Entry e = entry(name);
        long n = e.end() - e.begin();
        if (n > 0 && e.spec().dtype() == DType.BOOL) checkBools(name, data.asSlice(e.begin(), n));
        Tensor t = torch.empty(e.spec().shape(), new TensorOptions(e.spec().dtype().scalarType()), new MemoryFormatOptional());
        if (n > 0) {
            if (t.nbytes() != n) // cannot happen after parseEntry; guards the native copy below
                throw bad(path, "tensor '" + name + "' needs " + t.nbytes() + " bytes but spans " + n);
            MemorySegment dst = MemorySegment.ofAddress(t.data_ptr().address()).reinterpret(n);
            try {
                MemorySegment.copy(data, e.begin(), dst, 0, n);
            } catch (IllegalStateException closedMeanwhile) {
                throw new WeightsException("safetensors file " + path + " was closed while reading tensor '" + name + "'");
            }
        }
        return t;
    }

    /** libtorch assumes a bool byte is 0 or 1; anything else is refused rather than handed on. */
    private void checkBools(String name, MemorySegment bytes) {
        for (long i = 0; i < bytes.byteSize(); i++) {
            byte b = bytes.get(ValueLayout.JAVA_BYTE, i);
            if (b != 0 && b != 1)
                throw bad(path, "tensor '" + name + "' is BOOL but byte " + i + " holds " + (b & 0xff) + " (only 0 and 1 are booleans)");
        }
    }

    /** Unmaps the file; idempotent. Tensors returned by {@link #tensor} stay valid (they are copies). */
    @Override public synchronized void close() {
        if (closed) return;
        closed = true;
        arena.close();
    }
}
