package dev.kaze.tensor;

import org.bytedeco.javacpp.PointerScope;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Files a reader must refuse before trusting anything in them, each error naming the file and the key. */
class SafetensorsFileTest {
    @TempDir Path dir;
    private PointerScope scope;

    @BeforeEach void openScope() { scope = new PointerScope(); }

    @AfterEach void closeScope() { scope.close(); }

    /** A file with this header text (unpadded) and a data area of dataBytes bytes (values 0..). */
    private Path raw(String name, String header, int dataBytes) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        return raw(name, h.length, h, dataBytes);
    }

    private Path raw(String name, long declaredHeaderLength, byte[] header, int dataBytes) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(declaredHeaderLength).put(header);
        for (int i = 0; i < dataBytes; i++) b.put((byte) i);
        Path p = dir.resolve(name);
        Files.write(p, b.array());
        return p;
    }

    private static WeightsException refused(Path file, String... mentions) {
        WeightsException e = assertThrows(WeightsException.class, () -> SafetensorsFile.open(file).close());
        assertTrue(e.getMessage().contains(file.toString()), "names the file: " + e.getMessage());
        for (String m : mentions) assertTrue(e.getMessage().contains(m), "mentions " + m + ": " + e.getMessage());
        return e;
    }

    @Test
    void aWellFormedRawFileReads() throws IOException {
        Path p = raw("ok.safetensors", """
                {"__metadata__":{"format":"pt"},"a":{"dtype":"U8","shape":[2,2],"data_offsets":[0,4]},\
                "b":{"dtype":"I16","shape":[2],"data_offsets":[4,8]}}   """, 10); // 2 trailing bytes are allowed
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertEquals(Map.of("format", "pt"), f.metadata());
            assertArrayEquals(new byte[]{0, 1, 2, 3}, SafetensorsWriterTest.bytesOf(f.tensor("a")));
            assertEquals(0x0504, f.tensor("b").get(0).item_long());
        }
    }

    @Test
    void truncatedData() throws IOException {
        Path p = dir.resolve("cut.safetensors");
        Map<String, org.bytedeco.pytorch.Tensor> m = new LinkedHashMap<>();
        m.put("blocks.0.ffn.0.weight", SafetensorsWriterTest.fromBytes(DType.F32, new long[]{4}, new byte[16]));
        m.put("blocks.0.ffn.2.weight", SafetensorsWriterTest.fromBytes(DType.F32, new long[]{4}, new byte[16]));
        SafetensorsWriter.write(p, m);
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.WRITE)) {
            ch.truncate(ch.size() - 3);
        }
        refused(p, "'blocks.0.ffn.2.weight'", "truncated");
    }

    @Test
    void headerLongerThanTheFile() throws IOException {
        byte[] h = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}".getBytes(StandardCharsets.UTF_8);
        refused(raw("long.safetensors", 4096, h, 4), "4096");
        refused(raw("negative.safetensors", -1, h, 4), "header");
        refused(raw("huge.safetensors", SafetensorsFile.MAX_HEADER_BYTES + 1, h, 4), "header");
        Path tiny = dir.resolve("tiny.safetensors");
        Files.write(tiny, new byte[]{1, 2, 3});
        refused(tiny, "3 bytes");
    }

    @Test
    void overlappingOffsets() throws IOException {
        refused(raw("overlap.safetensors", """
                {"first":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},\
                "second":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}""", 24), "'first'", "'second'", "overlaps");
        // the overlap is with an earlier, longer range, hidden behind an empty tensor in offset order
        refused(raw("hidden.safetensors", """
                {"big":{"dtype":"U8","shape":[100],"data_offsets":[0,100]},\
                "empty":{"dtype":"U8","shape":[0],"data_offsets":[50,50]},\
                "inner":{"dtype":"U8","shape":[10],"data_offsets":[60,70]}}""", 100), "'big'", "'inner'", "overlaps");
        // tensors may share no bytes, but may share a boundary, and empty tensors overlap nothing
        try (SafetensorsFile f = SafetensorsFile.open(raw("touching.safetensors", """
                {"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"e":{"dtype":"U8","shape":[0],"data_offsets":[2,2]},\
                "b":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}}""", 8))) {
            assertEquals(3, f.entries().size());
        }
    }

    @Test
    void outOfRangeOffsets() throws IOException {
        refused(raw("past.safetensors", """
                {"w":{"dtype":"U8","shape":[8],"data_offsets":[8,16]}}""", 12), "'w'", "[8, 16]", "12 bytes");
        refused(raw("neg.safetensors", """
                {"w":{"dtype":"U8","shape":[8],"data_offsets":[-8,0]}}""", 12), "'w'", "data_offsets");
        refused(raw("backwards.safetensors", """
                {"w":{"dtype":"U8","shape":[0],"data_offsets":[8,4]}}""", 12), "'w'", "data_offsets");
        refused(raw("bignum.safetensors", """
                {"w":{"dtype":"U8","shape":[1],"data_offsets":[0,99999999999999999999999]}}""", 12), "'w'", "data_offsets");
        refused(raw("float.safetensors", """
                {"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1.0]}}""", 12), "'w'", "data_offsets");
        refused(raw("three.safetensors", """
                {"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1,2]}}""", 12), "'w'", "data_offsets");
    }

    @Test
    void unknownDtype() throws IOException {
        refused(raw("c64.safetensors", """
                {"w":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}""", 8), "'w'", "'C64'");
        refused(raw("lower.safetensors", """
                {"w":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}}""", 8), "'w'", "'f32'");
        refused(raw("nodtype.safetensors", """
                {"w":{"shape":[1],"data_offsets":[0,4]}}""", 8), "'w'", "dtype");
    }

    @Test
    void shapeDisagreesWithByteLength() throws IOException {
        refused(raw("shape.safetensors", """
                {"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}}""", 24), "'w'", "24 bytes", "20 bytes");
        refused(raw("negdim.safetensors", """
                {"w":{"dtype":"F32","shape":[-1,4],"data_offsets":[0,16]}}""", 24), "'w'", "shape");
        refused(raw("overflow.safetensors", """
                {"w":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,16]}}""", 24), "'w'", "shape");
        refused(raw("noshape.safetensors", """
                {"w":{"dtype":"F32","data_offsets":[0,16]}}""", 24), "'w'", "shape");
    }

    @Test
    void headerNotJson() throws IOException {
        refused(raw("text.safetensors", "this is not json at all", 0), "JSON");
        refused(raw("cut.safetensors", "{\"w\":{\"dtype\":\"F32\",\"sha", 0), "JSON");
        refused(raw("array.safetensors", "[1, 2, 3]", 0), "JSON object");
        refused(raw("trailing.safetensors", "{} {}", 0), "JSON");
        refused(raw("binary.safetensors", 4, new byte[]{(byte) 0xff, (byte) 0xfe, 0, 1}, 0), "UTF-8");
        refused(raw("entry.safetensors", "{\"w\": 5}", 0), "'w'");
    }

    @Test
    void duplicateKeys() throws IOException {
        refused(raw("dup.safetensors", """
                {"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}""", 2),
                "'w'", "twice");
        refused(raw("dupfield.safetensors", """
                {"w":{"dtype":"U8","dtype":"F32","shape":[1],"data_offsets":[0,1]}}""", 2), "'dtype'", "twice");
    }

    @Test
    void badMetadata() throws IOException {
        refused(raw("metanum.safetensors", """
                {"__metadata__":{"steps":5},"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}""", 1), "'steps'");
        refused(raw("metaarr.safetensors", """
                {"__metadata__":[1],"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}""", 1), "__metadata__");
    }

    @Test
    void boolBytesOtherThanZeroOrOneAreRefusedOnRead() throws IOException {
        Path p = raw("bool.safetensors", """
                {"mask":{"dtype":"BOOL","shape":[4],"data_offsets":[0,4]}}""", 4); // bytes 0,1,2,3
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            WeightsException e = assertThrows(WeightsException.class, () -> f.tensor("mask"));
            assertTrue(e.getMessage().contains(p.toString()) && e.getMessage().contains("'mask'"), e.getMessage());
        }
    }

    @Test
    void readingAfterCloseIsAnErrorNotACrash() throws IOException {
        Path p = raw("closed.safetensors", """
                {"w":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}""", 4);
        SafetensorsFile f = SafetensorsFile.open(p);
        f.close();
        f.close(); // idempotent
        WeightsException e = assertThrows(WeightsException.class, () -> f.tensor("w"));
        assertTrue(e.getMessage().contains(p.toString()) && e.getMessage().contains("'w'"), e.getMessage());
        e = assertThrows(WeightsException.class, () -> SafetensorsFile.open(p).tensor("nope"));
        assertTrue(e.getMessage().contains("'nope'"), e.getMessage());
    }

    @Test
    void aMissingFileNamesThePath() {
        Path p = dir.resolve("absent.safetensors");
        refused(p);
    }
}
