package dev.kaze.tensor;

import dev.kaze.json.Json;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CheckpointTest {
    private static final Path FIXTURES = Path.of(System.getProperty("kaze.parity.dir", "/work/shared/fixtures/wan-parity"));
    private static final Device CPU = new Device(torch.DeviceType.CPU);

    @TempDir Path dir;
    private PointerScope scope;

    @BeforeEach void openScope() { scope = new PointerScope(); }

    @AfterEach void closeScope() { scope.close(); }

    /** F32 tensor [n] holding start, start+1, ... */
    private static Tensor f32(int n, float start) {
        ByteBuffer b = ByteBuffer.allocate(4 * n).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) b.putFloat(start + i);
        return SafetensorsWriterTest.fromBytes(DType.F32, new long[]{n}, b.array());
    }

    private Path file(String name, Map<String, Tensor> tensors) {
        Path p = dir.resolve(name);
        SafetensorsWriter.write(p, tensors);
        return p;
    }

    private static Map<String, Tensor> map(Object... kv) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], (Tensor) kv[i + 1]);
        return m;
    }

    private static void assertMentions(Exception e, String... parts) {
        for (String p : parts) assertTrue(e.getMessage().contains(p), "mentions " + p + ": " + e.getMessage());
    }

    @Test
    void finishListsMissingWrongShapeAndUnconsumedKeysTogether() {
        Path p = file("model.safetensors", map("a.weight", f32(6, 1), "b.weight", f32(4, 0), "extra.bias", f32(1, 0)));
        try (Checkpoint ckpt = Checkpoint.open(p)) {
            Weights w = new Weights(ckpt, CPU);
            Tensor a = w.take("a.weight", ScalarType.Double, 6);
            assertEquals(ScalarType.Double, a.scalar_type().intern());
            assertEquals(21.0, a.sum().item_double());                      // 1 + 2 + ... + 6
            Tensor b = w.take("b.weight", ScalarType.Float, 2, 2);          // stored [4]
            assertTrue(b.is_meta(), "a wrong shape is answered with a placeholder");
            Tensor c = w.take("c.weight", ScalarType.Float, 3);             // not stored
            assertTrue(c.is_meta());
            assertArrayEquals(new long[]{3}, c.sizes().vec().get());

            WeightsException e = assertThrows(WeightsException.class, w::finish);
            assertMentions(e, "3 problem(s)", p.toString(), "'c.weight'", "'b.weight'", "[4]", "[2, 2]", "'extra.bias'");
            assertFalse(e.getMessage().contains("'a.weight'"), e.getMessage());
        }
    }

    @Test
    void finishPassesWhenEverythingIsConsumed() {
        Path p = file("ok.safetensors", map("x", f32(2, 0)));
        try (Checkpoint ckpt = Checkpoint.open(p)) {
            Weights w = new Weights(ckpt, CPU);
            assertTrue(w.has("x"));
            w.take("x", ScalarType.Float, 2);
            w.finish();
        }
    }

    private Path index(String name, Map<String, String> weightMap) throws IOException {
        var json = Json.MAPPER;
        var root = json.createObjectNode();
        root.putObject("metadata").put("total_size", 0);
        var wm = root.putObject("weight_map");
        weightMap.forEach(wm::put);
        Path p = dir.resolve(name);
        Files.writeString(p, json.writeValueAsString(root));
        return p;
    }

    @Test
    void shardedIndexLoadsEveryShard() throws IOException {
        file("model-00001-of-00002.safetensors", map("blocks.0.w", f32(2, 10), "blocks.0.b", f32(1, 20)));
        Path shard2 = file("model-00002-of-00002.safetensors", map("head.w", f32(3, 30)));
        Path idx = index("model.safetensors.index.json", Map.of(
                "blocks.0.w", "model-00001-of-00002.safetensors",
                "blocks.0.b", "model-00001-of-00002.safetensors",
                "head.w", "model-00002-of-00002.safetensors"));
        for (Path open : List.of(idx, dir)) {          // the index, or the directory holding it
            try (Checkpoint ckpt = Checkpoint.open(open)) {
                assertEquals(Set.of("blocks.0.w", "blocks.0.b", "head.w"), ckpt.keys());
                assertEquals(shard2.toString(), ckpt.origin("head.w"));
                assertEquals(new TensorSpec(DType.F32, new long[]{3}), ckpt.spec("head.w"));
                Weights w = new Weights(ckpt, CPU);
                assertEquals(30 + 31 + 32, w.take("head.w", ScalarType.Float, 3).sum().item_double());
                assertEquals(10 + 11, w.take("blocks.0.w", ScalarType.Float, 2).sum().item_double());
                w.take("blocks.0.b", ScalarType.Float, 1);
                w.finish();
            }
        }
    }

    @Test
    void anIndexNamingAMissingShardIsRefused() throws IOException {
        file("model-00001-of-00002.safetensors", map("blocks.0.w", f32(2, 10)));
        Path idx = index("model.safetensors.index.json", Map.of(
                "blocks.0.w", "model-00001-of-00002.safetensors",
                "head.w", "model-00002-of-00002.safetensors"));
        WeightsException e = assertThrows(WeightsException.class, () -> Checkpoint.open(idx));
        assertMentions(e, idx.toString(), "model-00002-of-00002.safetensors", "'head.w'", "missing");
    }

    @Test
    void anIndexThatMisplacesOrEscapesIsRefused() throws IOException {
        file("s1.safetensors", map("a", f32(1, 0)));
        file("s2.safetensors", map("b", f32(1, 0)));
        Path wrong = index("wrong.safetensors.index.json", Map.of("a", "s2.safetensors", "b", "s2.safetensors"));
        assertMentions(assertThrows(WeightsException.class, () -> Checkpoint.open(wrong)), wrong.toString(), "'a'", "s2.safetensors");
        Path escape = index("escape.safetensors.index.json", Map.of("a", "../s1.safetensors"));
        assertMentions(assertThrows(WeightsException.class, () -> Checkpoint.open(escape)), escape.toString(), "'a'");
        Path empty = index("empty.safetensors.index.json", Map.of());
        assertMentions(assertThrows(WeightsException.class, () -> Checkpoint.open(empty)), empty.toString(), "weight_map");
        Path notJson = dir.resolve("bad.safetensors.index.json");
        Files.writeString(notJson, "{\"weight_map\": {\"a\": \"s1.safetensors\", \"a\": \"s2.safetensors\"}}");
        assertMentions(assertThrows(WeightsException.class, () -> Checkpoint.open(notJson)), notJson.toString(), "a");
        Path twice = dir.resolve("twice");
        Files.createDirectories(twice);
        SafetensorsWriter.write(twice.resolve("t1.safetensors"), map("a", f32(1, 0)));
        SafetensorsWriter.write(twice.resolve("t2.safetensors"), map("a", f32(1, 0)));
        Path both = twice.resolve("x.safetensors.index.json");
        Files.writeString(both, "{\"weight_map\": {\"a\": \"t1.safetensors\", \"b\": \"t2.safetensors\"}}");
        assertMentions(assertThrows(WeightsException.class, () -> Checkpoint.open(both)), "'a'", "twice");
    }

    @Test
    void aBadShardIsReportedWithItsOwnName() throws IOException {
        Path s1 = file("s1.safetensors", map("a", f32(4, 0)));
        try (FileChannel ch = FileChannel.open(s1, StandardOpenOption.WRITE)) {
            ch.truncate(ch.size() - 1);
        }
        Path idx = index("m.safetensors.index.json", Map.of("a", "s1.safetensors"));
        assertMentions(assertThrows(WeightsException.class, () -> Checkpoint.open(idx)), s1.toString(), "'a'");
    }

    @Test
    void comfyPrefixesAreStripped() {
        for (String prefix : List.of("model.diffusion_model.", "diffusion_model.")) {
            Path p = file(prefix + "safetensors", map(prefix + "blocks.0.w", f32(2, 5), prefix + "head.w", f32(1, 7)));
            try (Checkpoint ckpt = Checkpoint.open(p)) {
                assertEquals(Set.of("blocks.0.w", "head.w"), ckpt.keys());
                assertEquals(5 + 6, ckpt.load("blocks.0.w").sum().item_double());
                Weights w = new Weights(ckpt, CPU);
                w.take("blocks.0.w", ScalarType.Float, 2);
                w.take("head.w", ScalarType.Float, 1);
                w.finish();
            }
        }
        // only when every key carries the prefix
        Path mixed = file("mixed.safetensors", map("diffusion_model.a", f32(1, 0), "b", f32(1, 0)));
        try (Checkpoint ckpt = Checkpoint.open(mixed)) {
            assertEquals(Set.of("diffusion_model.a", "b"), ckpt.keys());
        }
    }

    @Test
    void prefixesAreStrippedAcrossShards() throws IOException {
        file("p1.safetensors", map("model.diffusion_model.a", f32(1, 0)));
        file("p2.safetensors", map("model.diffusion_model.b", f32(1, 0)));
        Path idx = index("p.safetensors.index.json", Map.of("model.diffusion_model.a", "p1.safetensors",
                "model.diffusion_model.b", "p2.safetensors"));
        try (Checkpoint ckpt = Checkpoint.open(idx)) {
            assertEquals(Set.of("a", "b"), ckpt.keys());
        }
    }

    @Test
    void readsTheDitFixture() throws IOException {
        Path dit = FIXTURES.resolve("dit.safetensors");
        try (Checkpoint ckpt = Checkpoint.open(dit)) {
            assertEquals(69, ckpt.keys().size());
            JsonNode config = Json.MAPPER.readTree(ckpt.metadata().get("config"));
            assertEquals("WanModel", config.get("_class_name").asString());
            long dim = config.get("dim").asLong(), inDim = config.get("in_dim").asLong();
            assertEquals(new TensorSpec(DType.F32, new long[]{dim, inDim, 1, 2, 2}), ckpt.spec("patch_embedding.weight"));
            assertEquals(dit.toString(), ckpt.origin("blocks.0.cross_attn.k.bias"));

            // values agree with the bytes at the header's offsets, read here with plain Java
            byte[] raw = Files.readAllBytes(dit);
            ByteBuffer b = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
            long n = b.getLong(0);
            JsonNode entry = Json.MAPPER
                    .readTree(new String(raw, 8, (int) n, java.nio.charset.StandardCharsets.UTF_8)).get("blocks.0.cross_attn.k.bias");
            int begin = (int) (8 + n + entry.get("data_offsets").get(0).asLong());
            Tensor t = ckpt.load("blocks.0.cross_attn.k.bias");
            float[] got = SafetensorsWriterTest.floats(t);
            assertEquals(dim, got.length);
            for (int i = 0; i < got.length; i++) assertEquals(b.getFloat(begin + 4 * i), got[i]);
        }
    }

    @Test
    void theHardenedReaderAcceptsEveryFixtureFile() throws IOException {
        List<Path> files;
        try (var walk = Files.walk(FIXTURES)) {
            files = walk.filter(f -> f.toString().endsWith(".safetensors")).sorted().toList();
        }
        assertTrue(files.size() > 10, "fixture files found: " + files);
        for (Path f : files) {
            try (SafetensorsFile sf = SafetensorsFile.open(f)) {
                assertFalse(sf.entries().isEmpty(), f.toString());
            }
        }
    }

    @Test
    void aShapeManifestYieldsMetaTensorsWithoutAllocating() {
        Map<String, TensorSpec> specs = new LinkedHashMap<>();
        specs.put("huge.weight", new TensorSpec(DType.BF16, new long[]{1L << 20, 1L << 20}));   // 2 TiB if it were real
        specs.put("head.bias", new TensorSpec(DType.F32, new long[]{16}));
        ShapeManifest m = new ShapeManifest("checkpoint-manifests.json (Wan2.1-T2V-14B)", specs);
        Tensor huge = m.load("huge.weight");
        assertTrue(huge.is_meta());
        assertEquals(ScalarType.BFloat16, huge.scalar_type().intern());
        assertArrayEquals(new long[]{1L << 20, 1L << 20}, huge.sizes().vec().get());

        Weights w = new Weights(m, CPU);
        Tensor t = w.take("huge.weight", ScalarType.BFloat16, 1L << 20, 1L << 20);
        assertTrue(t.is_meta());
        Tensor f = w.take("head.bias", ScalarType.BFloat16, 16);             // another dtype: still meta, of that dtype
        assertTrue(f.is_meta());
        assertEquals(ScalarType.BFloat16, f.scalar_type().intern());
        w.finish();

        WeightsException e = assertThrows(WeightsException.class, () -> m.load("absent"));
        assertMentions(e, "'absent'", "checkpoint-manifests.json");
    }
}
