package dev.kaze.pipeline.dit;

import dev.kaze.tensor.CheckpointManifests;
import dev.kaze.tensor.DType;
import dev.kaze.tensor.ShapeManifest;
import dev.kaze.tensor.TensorSpec;
import dev.kaze.tensor.WeightsException;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The 14B and 1.3B builders expect exactly the keys and shapes of the published checkpoints (meta tensors, no allocation). */
class DitManifestTest {
    static JsonNode manifest(String name) { return CheckpointManifests.entry(name); }


    static DitConfig preset(String name) {
        return name.contains("14B") ? DitConfig.WAN_14B : DitConfig.WAN_1_3B;
    }

    private static void build(String name, Map<String, TensorSpec> specs) {
        try (PointerScope scope = new PointerScope();
             WanDit dit = WanDit.load(preset(name), new ShapeManifest(name, specs), new Device(torch.DeviceType.CPU), DitOptions.of(torch.ScalarType.BFloat16))) {
            assertThat(dit.config().numLayers()).isGreaterThan(0);
        }
    }

    @ParameterizedTest
    @CsvSource({"wan2.1-t2v-14B, 1095", "wan2.1-t2v-1.3B, 825"})
    void presetsConsumeExactlyThePublishedKeys(String name, int keyCount) throws Exception {
        JsonNode m = manifest(name);
        Map<String, TensorSpec> specs = CheckpointManifests.specs(m, DType.BF16);
        assertThat(specs).hasSize(keyCount);
        long params = specs.values().stream().mapToLong(TensorSpec::numel).sum();
        assertThat(params).isEqualTo(m.get("parameter_count").asLong());
        JsonNode cfg = m.get("config");
        DitConfig preset = preset(name);
        assertThat(preset.dim()).isEqualTo(cfg.get("dim").asInt());
        assertThat(preset.ffnDim()).isEqualTo(cfg.get("ffn_dim").asInt());
        assertThat(preset.numHeads()).isEqualTo(cfg.get("num_heads").asInt());
        assertThat(preset.numLayers()).isEqualTo(cfg.get("num_layers").asInt());
        build(name, specs);   // throws listing any missing, misshapen or unconsumed key
    }

    @ParameterizedTest
    @CsvSource({"wan2.1-t2v-14B", "wan2.1-t2v-1.3B"})
    void aMissingExtraOrMisshapenKeyIsNamed(String name) throws Exception {
        Map<String, TensorSpec> specs = CheckpointManifests.specs(manifest(name), DType.BF16);
        specs.remove("blocks.7.cross_attn.norm_k.weight");
        specs.put("blocks.3.ffn.0.weight", new TensorSpec(DType.BF16, new long[]{1, 2}));
        specs.put("blocks.0.img_emb.proj.0.weight", new TensorSpec(DType.BF16, new long[]{4}));
        assertThatThrownBy(() -> build(name, specs))
                .isInstanceOf(WeightsException.class)
                .hasMessageContaining("3 problem(s)")
                .hasMessageContaining("missing key 'blocks.7.cross_attn.norm_k.weight'")
                .hasMessageContaining("'blocks.3.ffn.0.weight'").hasMessageContaining("[1, 2]")
                .hasMessageContaining("unexpected key 'blocks.0.img_emb.proj.0.weight'");
    }
}
