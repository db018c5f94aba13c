package dev.kaze.tensor;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Hand-built torch.save archives: what is accepted, and what is refused with which message. */
class PthCraftedTest {
    @TempDir Path dir;

    // ---- accepted ----------------------------------------------------------------------------

    @Test
    void readsAZip64ArchiveWithATransposedViewAndKeepsDictOrder() throws IOException {
        // storage 0: six floats 0..5; 'b' is its transpose view [3,2] stride (1,3); 'a' is a slice at offset 2
        byte[] floats = floats(0, 1, 2, 3, 4, 5);
        byte[] pkl = new Pickle().proto(2).emptyDict().mark()
                .unicode("b").tensorV2("FloatStorage", "0", 6, 0, new long[] {3, 2}, new long[] {1, 3})
                .unicode("a").tensorV2("FloatStorage", "0", 6, 2, new long[] {2}, new long[] {1})
                .setItems().stop();
        Path f = write("view.pth", archive("view", pkl, Map.of("0", floats), true));
        try (java.util.zip.ZipFile z = new java.util.zip.ZipFile(f.toFile())) {
            // an independent reader agrees that the hand-built archive is a valid ZIP64 zip
            assertEquals(24, z.getEntry("view/data/0").getSize());
            assertArrayEquals(pkl, z.getInputStream(z.getEntry("view/data.pkl")).readAllBytes());
        }
        try (PointerScope scope = new PointerScope(); PthFile p = PthFile.open(f)) {
            assertEquals(List.of("b", "a"), List.copyOf(p.keys()));
            assertEquals(new TensorSpec(DType.F32, new long[] {3, 2}), p.spec("b"));
            Tensor b = p.load("b");
            assertTrue(b.is_contiguous());
            // b[i][j] = storage[i + 3j]
            assertArrayEquals(new float[] {0, 3, 1, 4, 2, 5}, values(b, 6));
            assertArrayEquals(new float[] {2, 3}, values(p.load("a"), 2));
        }
    }

    @Test
    void readsAnOrderedDictWithMetadataAndParameters() throws IOException {
        byte[] pkl = new Pickle().proto(2).global("collections", "OrderedDict").emptyTuple().reduce()
                .mark()
                .unicode("w").global("torch._utils", "_rebuild_parameter").mark()
                .tensorV2("BFloat16Storage", "7", 2, 0, new long[] {2}, new long[] {1})
                .newFalse().global("collections", "OrderedDict").emptyTuple().reduce().tuple().reduce()
                .setItems()
                // state set by BUILD: torch attaches _metadata to the OrderedDict
                .emptyDict().unicode("_metadata").global("collections", "OrderedDict").emptyTuple().reduce().setItem()
                .build().stop();
        byte[] bf16 = {(byte) 0x80, 0x3f, 0x00, (byte) 0xc0}; // 1.0, -2.0
        Path f = write("param.pth", archive("param", pkl, Map.of("7", bf16)));
        try (PointerScope scope = new PointerScope(); PthFile p = PthFile.open(f)) {
            assertEquals(List.of("w"), List.copyOf(p.keys()));
            assertEquals(new TensorSpec(DType.BF16, new long[] {2}), p.spec("w"));
            Tensor w = p.load("w").to(org.bytedeco.pytorch.global.torch.ScalarType.Float);
            assertArrayEquals(new float[] {1f, -2f}, values(w, 2));
        }
    }

    // ---- refused: code in the pickle -------------------------------------------------------------

    @Test
    void refusesPosixSystemWithoutRunningIt() throws IOException {
        Path marker = dir.resolve("pwned");
        byte[] pkl = new Pickle().proto(2).global("posix", "system").mark().unicode("touch " + marker).tuple().reduce().stop();
        assertRefused(pkl, "posix.system");
        assertFalse(Files.exists(marker), "nothing was executed");
    }

    @Test
    void refusesBuiltinsEval() throws IOException {
        byte[] pkl = new Pickle().proto(2).global("builtins", "eval").mark().unicode("1+1").tuple().reduce().stop();
        assertRefused(pkl, "builtins.eval");
    }

    @Test
    void refusesAGlobalNamedOnTheStack() throws IOException {
        // protocol 4 STACK_GLOBAL: module and name are strings pushed before the opcode
        byte[] pkl = new Pickle().proto(4).unicode("__builtin__").unicode("getattr").stackGlobal().stop();
        assertRefused(pkl, "__builtin__.getattr");
    }

    @Test
    void refusesAnUnknownGlobalInsideATensor() throws IOException {
        // a storage tagged with a class outside the allow-list, in an otherwise normal state dict
        byte[] pkl = new Pickle().proto(2).emptyDict().mark()
                .unicode("w").tensorV2("torch.nn", "Module", "0", 1, 0, new long[] {1}, new long[] {1})
                .setItems().stop();
        assertRefused(pkl, "torch.nn.Module");
    }

    private void assertRefused(byte[] pkl, String global) throws IOException {
        Path f = write("evil.pth", archive("evil", pkl, Map.of()));
        WeightsException e = assertThrows(WeightsException.class, () -> PthFile.open(f));
        assertTrue(e.getMessage().contains("'" + global + "'"), e.getMessage());
        assertTrue(e.getMessage().contains(f.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("never runs code"), e.getMessage());
    }

    // ---- refused: damaged archives ---------------------------------------------------------------

    @Test
    void refusesATruncatedArchive() throws IOException {
        byte[] whole = Files.readAllBytes(PthFileTest.parityDir().resolve("vae.pth"));
        Path f = write("cut.pth", java.util.Arrays.copyOf(whole, whole.length / 2));
        WeightsException e = assertThrows(WeightsException.class, () -> PthFile.open(f));
        assertTrue(e.getMessage().contains(f.toString()) && e.getMessage().contains("truncated"), e.getMessage());
    }

    @Test
    void refusesADamagedCentralDirectory() throws IOException {
        byte[] bytes = Files.readAllBytes(PthFileTest.parityDir().resolve("vae.pth"));
        int cd = lastIndexOf(bytes, new byte[] {'P', 'K', 1, 2});
        bytes[cd + 2] = 9;
        Path f = write("damaged.pth", bytes);
        WeightsException e = assertThrows(WeightsException.class, () -> PthFile.open(f));
        assertTrue(e.getMessage().contains(f.toString()) && e.getMessage().contains("central directory"), e.getMessage());
    }

    @Test
    void refusesAStorageShorterThanItsTensor() throws IOException {
        byte[] pkl = new Pickle().proto(2).emptyDict().mark()
                .unicode("encoder.conv1.weight").tensorV2("FloatStorage", "0", 6, 0, new long[] {2, 3}, new long[] {3, 1})
                .setItems().stop();
        Path f = write("short.pth", archive("short", pkl, Map.of("0", floats(1, 2, 3, 4))));
        WeightsException e = assertThrows(WeightsException.class, () -> PthFile.open(f));
        assertTrue(e.getMessage().contains("encoder.conv1.weight") && e.getMessage().contains("short/data/0")
                && e.getMessage().contains("24 bytes") && e.getMessage().contains("only 16 bytes"), e.getMessage());
    }

    @Test
    void refusesAMissingStorageEntry() throws IOException {
        byte[] pkl = new Pickle().proto(2).emptyDict().mark()
                .unicode("w").tensorV2("FloatStorage", "3", 1, 0, new long[] {1}, new long[] {1}).setItems().stop();
        Path f = write("missing.pth", archive("missing", pkl, Map.of()));
        WeightsException e = assertThrows(WeightsException.class, () -> PthFile.open(f));
        assertTrue(e.getMessage().contains("'w'") && e.getMessage().contains("missing/data/3"), e.getMessage());
    }

    @Test
    void refusesACompressedEntry() throws IOException {
        byte[] pkl = new Pickle().proto(2).emptyDict().stop();
        Map<String, byte[]> entries = new LinkedHashMap<>();
        entries.put("z/data.pkl", pkl);
        Path f = write("deflated.pth", new Zip(false, 8).build(entries));
        WeightsException e = assertThrows(WeightsException.class, () -> PthFile.open(f));
        assertTrue(e.getMessage().contains("z/data.pkl") && e.getMessage().contains("compressed"), e.getMessage());
    }

    @Test
    void explainsTheLegacyFormat() throws IOException {
        Path f = write("legacy.pth", new Pickle().proto(2).emptyDict().stop());
        WeightsException e = assertThrows(WeightsException.class, () -> PthFile.open(f));
        assertTrue(e.getMessage().contains("legacy format"), e.getMessage());
    }

    @Test
    void refusesANonTensorValue() throws IOException {
        byte[] pkl = new Pickle().proto(2).emptyDict().unicode("epoch").unicode("3").setItem().stop();
        Path f = write("epoch.pth", archive("epoch", pkl, Map.of()));
        WeightsException e = assertThrows(WeightsException.class, () -> PthFile.open(f));
        assertTrue(e.getMessage().contains("'epoch'") && e.getMessage().contains("not a tensor"), e.getMessage());
    }

    // ---- building archives ----------------------------------------------------------------------

    private Path write(String name, byte[] bytes) throws IOException {
        Path f = dir.resolve(name);
        Files.write(f, bytes);
        return f;
    }

    private static byte[] archive(String name, byte[] pkl, Map<String, byte[]> storages) {
        return archive(name, pkl, storages, false);
    }

    private static byte[] archive(String name, byte[] pkl, Map<String, byte[]> storages, boolean zip64) {
        Map<String, byte[]> entries = new LinkedHashMap<>();
        entries.put(name + "/data.pkl", pkl);
        entries.put(name + "/byteorder", "little".getBytes(StandardCharsets.US_ASCII));
        storages.forEach((k, v) -> entries.put(name + "/data/" + k, v));
        entries.put(name + "/version", "3\n".getBytes(StandardCharsets.US_ASCII));
        return new Zip(zip64, 0).build(entries);
    }

    private static byte[] floats(float... v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float x : v) b.putFloat(x);
        return b.array();
    }

    private static float[] values(Tensor t, int n) {
        return MemorySegment.ofAddress(t.data_ptr().address()).reinterpret(4L * n).toArray(ValueLayout.JAVA_FLOAT_UNALIGNED);
    }

    private static int lastIndexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = hay.length - needle.length; i >= 0; i--) {
            for (int j = 0; j < needle.length; j++) if (hay[i + j] != needle[j]) continue outer;
            return i;
        }
        return -1;
    }

    /** Raw pickle opcodes, as Python's pickle module writes them. */
    static final class Pickle {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Pickle op(int... bytes) { for (int b : bytes) out.write(b); return this; }

        Pickle proto(int v) { return op(0x80, v); }
        Pickle mark() { return op('('); }
        Pickle emptyDict() { return op('}'); }
        Pickle emptyTuple() { return op(')'); }
        Pickle tuple() { return op('t'); }
        Pickle reduce() { return op('R'); }
        Pickle build() { return op('b'); }
        Pickle setItem() { return op('s'); }
        Pickle setItems() { return op('u'); }
        Pickle newFalse() { return op(0x89); }
        Pickle binPersId() { return op('Q'); }
        Pickle stackGlobal() { return op(0x93); }

        byte[] stop() { op('.'); return out.toByteArray(); }

        Pickle global(String module, String name) {
            op('c');
            out.writeBytes((module + "\n" + name + "\n").getBytes(StandardCharsets.US_ASCII));
            return this;
        }

        Pickle unicode(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            op('X').int32(b.length);
            out.writeBytes(b);
            return this;
        }

        Pickle integer(long v) { return op('J').int32((int) v); }

        private Pickle int32(int v) { return op(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff); }

        Pickle longs(long... v) {
            mark();
            for (long x : v) integer(x);
            return tuple();
        }

        /** _rebuild_tensor_v2(('storage', torch.<type>, key, 'cpu', numel), offset, size, stride, False, OrderedDict()). */
        Pickle tensorV2(String storageType, String key, long numel, long offset, long[] size, long[] stride) {
            return tensorV2("torch", storageType, key, numel, offset, size, stride);
        }

        Pickle tensorV2(String module, String storageType, String key, long numel, long offset, long[] size, long[] stride) {
            global("torch._utils", "_rebuild_tensor_v2").mark()
                    .mark().unicode("storage").global(module, storageType).unicode(key).unicode("cpu").integer(numel).tuple()
                    .binPersId()
                    .integer(offset).longs(size).longs(stride).newFalse()
                    .global("collections", "OrderedDict").emptyTuple().reduce()
                    .tuple();
            return reduce();
        }
    }

    /** A zip with stored (or flagged-as-deflated) entries; with zip64, every size and offset goes to ZIP64 fields. */
    record Zip(boolean zip64, int method) {
        byte[] build(Map<String, byte[]> entries) {
            ByteBuffer b = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
            Map<String, Integer> offsets = new LinkedHashMap<>();
            for (var e : entries.entrySet()) {
                byte[] name = e.getKey().getBytes(StandardCharsets.UTF_8), data = e.getValue();
                offsets.put(e.getKey(), b.position());
                b.putInt(0x04034b50).putShort((short) 45).putShort((short) 0).putShort((short) method)
                        .putShort((short) 0).putShort((short) 0).putInt((int) crc(data));
                if (zip64) b.putInt(-1).putInt(-1);
                else b.putInt(data.length).putInt(data.length);
                // torch pads local headers so that data is 64-byte aligned
                int unpadded = b.position() + 4 + name.length + (zip64 ? 20 : 0) + 4;
                int pad = (64 - unpadded % 64) % 64;
                b.putShort((short) name.length).putShort((short) ((zip64 ? 20 : 0) + 4 + pad)).put(name);
                if (zip64) b.putShort((short) 1).putShort((short) 16).putLong(data.length).putLong(data.length);
                b.putShort((short) 0x4246).putShort((short) pad).put(new byte[pad]);
                b.put(data);
            }
            int cdStart = b.position();
            for (var e : entries.entrySet()) {
                byte[] name = e.getKey().getBytes(StandardCharsets.UTF_8), data = e.getValue();
                b.putInt(0x02014b50).putShort((short) 45).putShort((short) 45).putShort((short) 0).putShort((short) method)
                        .putShort((short) 0).putShort((short) 0).putInt((int) crc(data));
                if (zip64) b.putInt(-1).putInt(-1);
                else b.putInt(data.length).putInt(data.length);
                b.putShort((short) name.length).putShort((short) (zip64 ? 28 : 0)).putShort((short) 0)
                        .putShort((short) 0).putShort((short) 0).putInt(0).putInt(zip64 ? -1 : offsets.get(e.getKey()))
                        .put(name);
                if (zip64) b.putShort((short) 1).putShort((short) 24).putLong(data.length).putLong(data.length)
                        .putLong(offsets.get(e.getKey()));
            }
            int cdSize = b.position() - cdStart;
            if (zip64) {
                int z = b.position();
                b.putInt(0x06064b50).putLong(44).putShort((short) 45).putShort((short) 45).putInt(0).putInt(0)
                        .putLong(entries.size()).putLong(entries.size()).putLong(cdSize).putLong(cdStart);
                b.putInt(0x07064b50).putInt(0).putLong(z).putInt(1);
                b.putInt(0x06054b50).putShort((short) 0).putShort((short) 0).putShort((short) -1).putShort((short) -1)
                        .putInt(-1).putInt(-1).putShort((short) 0);
            } else {
                b.putInt(0x06054b50).putShort((short) 0).putShort((short) 0).putShort((short) entries.size())
                        .putShort((short) entries.size()).putInt(cdSize).putInt(cdStart).putShort((short) 0);
            }
            return java.util.Arrays.copyOf(b.array(), b.position());
        }

        private static long crc(byte[] data) {
            CRC32 c = new CRC32();
            c.update(data);
            return c.getValue();
        }
    }
}
