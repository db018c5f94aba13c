package dev.kaze.tensor;

import dev.kaze.json.Json;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import tools.jackson.databind.JsonNode;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SafetensorsWriterTest {
    @TempDir Path dir;
    private PointerScope scope;

    @BeforeEach void openScope() { scope = new PointerScope(); }

    @AfterEach void closeScope() { scope.close(); }

    /** A CPU tensor of the given dtype and shape holding exactly these (little-endian) bytes. */
    static Tensor fromBytes(DType dtype, long[] shape, byte[] bytes) {
        Tensor t = torch.empty(shape, new TensorOptions(dtype.scalarType()), new MemoryFormatOptional());
        assertEquals(bytes.length, t.nbytes());
        if (bytes.length > 0)
            MemorySegment.copy(MemorySegment.ofArray(bytes), 0,
                    MemorySegment.ofAddress(t.data_ptr().address()).reinterpret(bytes.length), 0, bytes.length);
        return t;
    }

    static byte[] bytesOf(Tensor t) {
        Tensor c = t.contiguous();
        byte[] out = new byte[(int) c.nbytes()];
        if (out.length > 0)
            MemorySegment.copy(MemorySegment.ofAddress(c.data_ptr().address()).reinterpret(out.length), 0,
                    MemorySegment.ofArray(out), 0, out.length);
        return out;
    }

    static float[] floats(Tensor t) {
        Tensor f = t.to(ScalarType.Float).contiguous();
        float[] out = new float[(int) f.numel()];
        MemorySegment.copy(MemorySegment.ofAddress(f.data_ptr().address()).reinterpret(4L * out.length),
                ValueLayout.JAVA_FLOAT, 0, out, 0, out.length);
        return out;
    }

    private static ByteBuffer le(int size) { return ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN); }

    /** Six values per dtype as the little-endian bytes safetensors stores, built without libtorch. */
    static byte[] sampleBytes(DType d) {
        return switch (d) {
            case F64 -> { ByteBuffer b = le(48); for (double v : new double[]{0, -1.5, 1e300, Math.PI, -0.0, Double.MIN_VALUE}) b.putDouble(v); yield b.array(); }
            case F32 -> { ByteBuffer b = le(24); for (float v : new float[]{0, -1.5f, 3e38f, (float) Math.PI, -0.0f, Float.MIN_VALUE}) b.putFloat(v); yield b.array(); }
            case F16 -> { ByteBuffer b = le(12); for (float v : new float[]{1, -2.5f, 65504, 0.0001f, -0.0f, 3.14159f}) b.putShort(Float.floatToFloat16(v)); yield b.array(); }
            // bf16 is the top half of a float32; includes a NaN payload, -0 and a subnormal to prove bit-exactness
            case BF16 -> { ByteBuffer b = le(12); for (int bits : new int[]{0x3F80, 0xC049, 0x7FC1, 0x8000, 0x0001, 0x7F7F}) b.putShort((short) bits); yield b.array(); }
            case F8_E4M3 -> new byte[]{0x00, 0x38, 0x40, 0x7E, (byte) 0xB8, 0x01};   // 0, 1, 2, 448, -1, 2^-9
            case F8_E5M2 -> new byte[]{0x00, 0x3C, 0x40, 0x7B, (byte) 0xBC, 0x01};   // 0, 1, 2, 57344, -1, 2^-16
            case I64 -> { ByteBuffer b = le(48); for (long v : new long[]{Long.MIN_VALUE, Long.MAX_VALUE, -1, 0, 1L << 40, 42}) b.putLong(v); yield b.array(); }
            case I32 -> { ByteBuffer b = le(24); for (int v : new int[]{Integer.MIN_VALUE, Integer.MAX_VALUE, -1, 0, 1 << 20, 42}) b.putInt(v); yield b.array(); }
            case I16 -> { ByteBuffer b = le(12); for (short v : new short[]{Short.MIN_VALUE, Short.MAX_VALUE, -1, 0, 300, 42}) b.putShort(v); yield b.array(); }
            case I8 -> new byte[]{Byte.MIN_VALUE, Byte.MAX_VALUE, -1, 0, 7, 42};
            case U8 -> new byte[]{0, (byte) 255, (byte) 200, 1, (byte) 128, 42};
            case BOOL -> new byte[]{0, 1, 1, 0, 0, 1};
        };
    }

    /** The same six values as floats, decoded independently of libtorch (null where not a float type). */
    static float[] sampleFloats(DType d) {
        return switch (d) {
            case F16 -> new float[]{1, -2.5f, 65504, Float.float16ToFloat(Float.floatToFloat16(0.0001f)), -0.0f,
                    Float.float16ToFloat(Float.floatToFloat16(3.14159f))};
            case F8_E4M3 -> new float[]{0, 1, 2, 448, -1, (float) Math.pow(2, -9)};
            case F8_E5M2 -> new float[]{0, 1, 2, 57344, -1, (float) Math.pow(2, -16)};
            default -> null;
        };
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void roundTripKeepsEveryDtypeBitExact(DType dtype) throws IOException {
        byte[] expected = sampleBytes(dtype);
        Tensor t = fromBytes(dtype, new long[]{2, 3}, expected);
        assertEquals(dtype.scalarType(), t.scalar_type().intern());
        Path file = dir.resolve(dtype.code() + ".safetensors");
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "pt");
        meta.put("note", "ünïcode \"quoted\" \n newline");
        SafetensorsWriter.write(file, Map.of("x", t), meta);

        // The file itself holds the little-endian bytes, right after the header.
        byte[] raw = Files.readAllBytes(file);
        long n = ByteBuffer.wrap(raw, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertArrayEquals(expected, Arrays.copyOfRange(raw, (int) (8 + n), raw.length));

        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(meta, f.metadata());
            assertEquals(new TensorSpec(dtype, new long[]{2, 3}), f.entry("x").spec());
            Tensor back = f.tensor("x");
            assertEquals(dtype.scalarType(), back.scalar_type().intern());
            assertArrayEquals(new long[]{2, 3}, back.sizes().vec().get());
            assertArrayEquals(expected, bytesOf(back), "stored bits of " + dtype);
            if (dtype != DType.BF16) assertTrue(back.equal(t), "values of " + dtype);
            float[] decoded = sampleFloats(dtype);
            if (decoded != null) assertArrayEquals(decoded, floats(back), "decoded values of " + dtype);
        }
    }

    @Test
    void bf16ValuesMatchTheTopHalfOfFloat32() {
        byte[] bytes = sampleBytes(DType.BF16);
        Tensor t = fromBytes(DType.BF16, new long[]{6}, bytes);
        Path file = dir.resolve("bf16.safetensors");
        SafetensorsWriter.write(file, Map.of("w", t));
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            float[] got = floats(f.tensor("w"));
            ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < 6; i++) {
                float want = Float.intBitsToFloat((b.getShort(2 * i) & 0xffff) << 16);
                assertEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(got[i]), "element " + i);
            }
        }
    }

    @Test
    void headerIsPaddedJsonWithContiguousOffsetsInOrder() throws IOException {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        tensors.put("z.first", fromBytes(DType.F32, new long[]{6}, sampleBytes(DType.F32)));            // 24 bytes
        tensors.put("a.second", fromBytes(DType.U8, new long[]{1, 5}, new byte[]{1, 2, 3, 4, 5}));      // 5 bytes
        tensors.put("m.empty", fromBytes(DType.F16, new long[]{0, 4}, new byte[0]));                   // 0 bytes
        tensors.put("b.scalar", fromBytes(DType.I64, new long[]{}, le(8).putLong(0, -7).array()));     // 8 bytes
        Path file = dir.resolve("order.safetensors");
        SafetensorsWriter.write(file, tensors, Map.of("config", "{\"dim\": 8}"));

        byte[] raw = Files.readAllBytes(file);
        long n = ByteBuffer.wrap(raw, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, n % 8, "header length is a multiple of 8");
        String header = new String(raw, 8, (int) n, StandardCharsets.UTF_8);
        String json = header.stripTrailing();
        assertTrue(header.substring(json.length()).chars().allMatch(c -> c == ' '), "padding is spaces");
        assertTrue(json.length() > n - 8, "padding is less than 8 bytes");

        JsonNode root = Json.MAPPER.readTree(json);
        List<String> names = root.propertyNames().stream().toList();
        assertEquals(List.of("__metadata__", "z.first", "a.second", "m.empty", "b.scalar"), names);
        assertEquals("{\"dim\": 8}", root.get("__metadata__").get("config").asString());
        long[][] expected = {{0, 24}, {24, 29}, {29, 29}, {29, 37}};
        String[] dtypes = {"F32", "U8", "F16", "I64"};
        for (int i = 0; i < 4; i++) {
            JsonNode e = root.get(names.get(i + 1));
            assertEquals(dtypes[i], e.get("dtype").asString());
            assertEquals(expected[i][0], e.get("data_offsets").get(0).asLong());
            assertEquals(expected[i][1], e.get("data_offsets").get(1).asLong());
        }
        assertEquals(0, root.get("b.scalar").get("shape").size());
        assertEquals(37, raw.length - 8 - n, "the data area is exactly the tensors");
        assertEquals(-7, ByteBuffer.wrap(raw, (int) (8 + n + 29), 8).order(ByteOrder.LITTLE_ENDIAN).getLong());

        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(List.of("z.first", "a.second", "m.empty", "b.scalar"), List.copyOf(f.entries().keySet()));
            assertEquals(-7, f.tensor("b.scalar").item_long());
            assertArrayEquals(new long[]{0, 4}, f.tensor("m.empty").sizes().vec().get());
        }
    }

    @Test
    void nonContiguousTensorsAreWrittenInLogicalOrder() {
        Tensor base = torch.arange(new org.bytedeco.pytorch.Scalar(6), new TensorOptions(ScalarType.Float)).reshape(2, 3);
        Tensor transposed = base.t();                          // [3, 2]: 0 3 / 1 4 / 2 5
        Tensor sliced = base.narrow(1, 1, 2);                   // [2, 2]: 1 2 / 4 5, storage offset 1
        Path file = dir.resolve("views.safetensors");
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("t", transposed);
        m.put("s", sliced);
        SafetensorsWriter.write(file, m);
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertArrayEquals(new float[]{0, 3, 1, 4, 2, 5}, floats(f.tensor("t")));
            assertArrayEquals(new long[]{3, 2}, f.tensor("t").sizes().vec().get());
            assertArrayEquals(new float[]{1, 2, 4, 5}, floats(f.tensor("s")));
        }
    }

    @Test
    void replacesAnExistingFileAtomicallyAndLeavesNoTemporaryFiles() throws IOException {
        Path file = dir.resolve("sub/dir/out.safetensors");
        SafetensorsWriter.write(file, Map.of("v", fromBytes(DType.I8, new long[]{2}, new byte[]{1, 2})));
        try (SafetensorsFile old = SafetensorsFile.open(file)) {
            SafetensorsWriter.write(file, Map.of("v", fromBytes(DType.I8, new long[]{3}, new byte[]{7, 8, 9})));
            // the open mapping still sees the old file; a new open sees the new one
            assertArrayEquals(new byte[]{1, 2}, bytesOf(old.tensor("v")));
            try (SafetensorsFile now = SafetensorsFile.open(file)) {
                assertArrayEquals(new byte[]{7, 8, 9}, bytesOf(now.tensor("v")));
            }
        }
        try (var s = Files.list(file.getParent())) {
            assertEquals(List.of("out.safetensors"), s.map(p -> p.getFileName().toString()).toList());
        }
    }

    @Test
    void aFailedWriteNamesTheKeyAndLeavesTheOldFileAlone() throws IOException {
        Path file = dir.resolve("keep.safetensors");
        SafetensorsWriter.write(file, Map.of("v", fromBytes(DType.U8, new long[]{1}, new byte[]{5})));
        byte[] before = Files.readAllBytes(file);

        TensorOptions meta = new TensorOptions(ScalarType.Float).device(new DeviceOptional(new Device(torch.DeviceType.Meta)));
        Map<String, Tensor> bad = new LinkedHashMap<>();
        bad.put("good", fromBytes(DType.U8, new long[]{1}, new byte[]{1}));
        bad.put("blocks.0.meta", torch.empty(new long[]{2, 2}, meta, new MemoryFormatOptional()));
        WeightsException e = assertThrows(WeightsException.class, () -> SafetensorsWriter.write(file, bad));
        assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains("'blocks.0.meta'"), e.getMessage());

        Tensor complex = torch.zeros(new long[]{2}, new TensorOptions(ScalarType.ComplexFloat));
        e = assertThrows(WeightsException.class, () -> SafetensorsWriter.write(file, Map.of("c64", complex)));
        assertTrue(e.getMessage().contains("'c64'") && e.getMessage().contains("ComplexFloat"), e.getMessage());

        e = assertThrows(WeightsException.class, () -> SafetensorsWriter.write(file,
                Map.of("__metadata__", fromBytes(DType.U8, new long[]{1}, new byte[]{1}))));
        assertTrue(e.getMessage().contains("__metadata__"), e.getMessage());

        assertArrayEquals(before, Files.readAllBytes(file));
        try (var s = Files.list(dir)) {
            assertEquals(List.of("keep.safetensors"), s.map(p -> p.getFileName().toString()).toList());
        }
    }
}
