package dev.kaze.pipeline.text;

import dev.kaze.tensor.CheckpointManifests;
import dev.kaze.tensor.DType;
import dev.kaze.tensor.ShapeManifest;
import dev.kaze.tensor.TensorSpec;
import dev.kaze.tensor.Weights;
import dev.kaze.tensor.WeightsException;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Builds umT5-XXL from the key/shape manifest of models_t5_umt5-xxl-enc-bf16.pth (meta tensors,
 * nothing allocated): the loader must consume exactly those keys and shapes.
 */
class T5ManifestTest {
    private static final Device CPU = new Device(torch.DeviceType.CPU);

    private static JsonNode entry() { return CheckpointManifests.entry("umt5-xxl-encoder"); }

    private static Map<String, TensorSpec> specs(JsonNode entry) { return CheckpointManifests.specs(entry, DType.BF16); }

    private static T5Encoder build(Map<String, TensorSpec> specs) {
        ShapeManifest manifest = new ShapeManifest("umt5-xxl-encoder manifest", specs);
        return T5EncoderLoader.load(new Weights(manifest, CPU), T5Config.UMT5_XXL, torch.ScalarType.BFloat16);
    }

    @Test
    void manifestConfigIsTheUmt5XxlPreset() throws Exception {
        T5Config fromManifest = T5Config.fromJson(entry().get("config").toString(), "checkpoint-manifests.json");
        assertEquals(T5Config.UMT5_XXL, fromManifest);
        assertEquals(64, T5Config.UMT5_XXL.headDim());
    }

    @Test
    void buildsFromExactlyTheManifestKeys() throws Exception {
        Map<String, TensorSpec> specs = specs(entry());
        assertEquals(242, specs.size());
        try (PointerScope ignored = new PointerScope(); T5Encoder encoder = build(specs)) {
            assertEquals(T5Config.UMT5_XXL, encoder.config());
            assertEquals(torch.ScalarType.BFloat16, encoder.dtype());
            assertEquals(torch.DeviceType.Meta, encoder.device().type().intern());
        }
    }

    @Test
    void configReadOffTheShapesIsTheUmt5XxlPreset() throws Exception {
        ShapeManifest manifest = new ShapeManifest("umt5-xxl-encoder manifest", specs(entry()));
        assertEquals(T5Config.UMT5_XXL, T5EncoderLoader.inferConfig(manifest));
    }

    @Test
    void missingKeyIsNamed() throws Exception {
        Map<String, TensorSpec> specs = specs(entry());
        specs.remove("blocks.17.ffn.gate.0.weight");
        try (PointerScope ignored = new PointerScope()) {
            WeightsException e = assertThrows(WeightsException.class, () -> build(specs));
            assertTrue(e.getMessage().contains("missing key 'blocks.17.ffn.gate.0.weight'"), e.getMessage());
            assertTrue(e.getMessage().contains("1 problem(s)"), e.getMessage());
        }
    }

    @Test
    void wrongShapeIsNamed() throws Exception {
        Map<String, TensorSpec> specs = specs(entry());
        specs.put("blocks.3.pos_embedding.embedding.weight", new TensorSpec(DType.BF16, new long[]{32, 32}));
        try (PointerScope ignored = new PointerScope()) {
            WeightsException e = assertThrows(WeightsException.class, () -> build(specs));
            assertTrue(e.getMessage().contains("'blocks.3.pos_embedding.embedding.weight'"), e.getMessage());
            assertTrue(e.getMessage().contains("[32, 32]") && e.getMessage().contains("[32, 64]"), e.getMessage());
            assertTrue(e.getMessage().contains("1 problem(s)"), e.getMessage());
        }
    }

    @Test
    void unexpectedKeyIsNamed() throws Exception {
        Map<String, TensorSpec> specs = specs(entry());
        specs.put("pos_embedding.embedding.weight", new TensorSpec(DType.BF16, new long[]{32, 64}));
        try (PointerScope ignored = new PointerScope()) {
            WeightsException e = assertThrows(WeightsException.class, () -> build(specs));
            assertTrue(e.getMessage().contains("unexpected key 'pos_embedding.embedding.weight'"), e.getMessage());
        }
    }

    @Test
    void hfNamedManifestBuildsTheSameModel() throws Exception {
        Map<String, TensorSpec> hf = new LinkedHashMap<>();
        for (var e : specs(entry()).entrySet()) hf.put(T5ComfyKeysTest.hfName(e.getKey()), e.getValue());
        hf.put("encoder.embed_tokens.weight", hf.get("shared.weight"));
        hf.put("spiece_model", new TensorSpec(DType.U8, new long[]{4548313}));
        ShapeManifest manifest = new ShapeManifest("umt5_xxl_fp16.safetensors manifest", hf);
        var source = T5EncoderLoader.wanKeys(manifest);
        assertEquals(T5Config.UMT5_XXL, T5EncoderLoader.inferConfig(source));
        try (PointerScope ignored = new PointerScope();
             T5Encoder encoder = T5EncoderLoader.load(new Weights(source, CPU), T5Config.UMT5_XXL, torch.ScalarType.BFloat16)) {
            assertEquals(24, encoder.config().numLayers());
        }
    }
}
