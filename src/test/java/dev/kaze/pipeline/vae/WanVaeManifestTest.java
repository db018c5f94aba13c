package dev.kaze.pipeline.vae;

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

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The loader against every key and shape of the published Wan2.1 VAE (meta tensors, nothing allocated). */
class WanVaeManifestTest {
    private static final Device CPU = new Device(torch.DeviceType.CPU);

    private static JsonNode manifest() { return CheckpointManifests.entry("wan2.1-vae"); }

    private static Map<String, TensorSpec> specs(JsonNode m) { return CheckpointManifests.specs(m, DType.F32); }

    @Test
    void manifestConfigIsTheWan21Preset() throws IOException {
        assertEquals(VaeConfig.wan21(), VaeConfig.fromJson(manifest().get("config").toString()));
    }

    @Test
    void buildsFromEveryKeyOfThePublishedVae() throws IOException {
        Map<String, TensorSpec> specs = specs(manifest());
        assertEquals(194, specs.size(), "the spec (§3.4) lists 194 tensors");
        assertEquals(VaeConfig.wan21(), VaeConfig.detect(new ShapeManifest("wan2.1-vae manifest", specs)),
                "the shapes of Wan2.1_VAE.pth give the Wan2.1 configuration");
        try (PointerScope scope = new PointerScope();
             WanVae vae = WanVae.build(new Weights(new ShapeManifest("wan2.1-vae manifest", specs), CPU),
                     VaeConfig.wan21(), LatentScale.WAN21, torch.ScalarType.Float)) {
            assertEquals(16, vae.config().zDim());
        }
    }

    @Test
    void failsNamingAMissingKey() throws IOException {
        Map<String, TensorSpec> specs = specs(manifest());
        String removed = "decoder.upsamples.3.time_conv.weight";
        assertTrue(specs.remove(removed) != null);
        try (PointerScope scope = new PointerScope()) {
            WeightsException e = assertThrows(WeightsException.class, () -> WanVae.build(
                    new Weights(new ShapeManifest("wan2.1-vae manifest", specs), CPU),
                    VaeConfig.wan21(), LatentScale.WAN21, torch.ScalarType.Float).close());
            assertTrue(e.getMessage().contains("missing key '" + removed + "'"), e.getMessage());
            assertTrue(e.getMessage().contains("wan2.1-vae manifest"), e.getMessage());
        }
    }

    @Test
    void failsNamingAWrongShapeAndAnUnexpectedKey() throws IOException {
        Map<String, TensorSpec> specs = specs(manifest());
        specs.put("encoder.head.2.bias", new TensorSpec(DType.F32, new long[]{16}));
        specs.put("encoder.extra.weight", new TensorSpec(DType.F32, new long[]{1}));
        try (PointerScope scope = new PointerScope()) {
            WeightsException e = assertThrows(WeightsException.class, () -> WanVae.build(
                    new Weights(new ShapeManifest("wan2.1-vae manifest", specs), CPU),
                    VaeConfig.wan21(), LatentScale.WAN21, torch.ScalarType.Float).close());
            assertTrue(e.getMessage().contains("'encoder.head.2.bias'") && e.getMessage().contains("expected [32]"), e.getMessage());
            assertTrue(e.getMessage().contains("unexpected key 'encoder.extra.weight'"), e.getMessage());
        }
    }
}
