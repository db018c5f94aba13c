package dev.kaze.pipeline.dit;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class DitConfigTest {
    @Test
    void readsTheOfficialConfigFormat() {
        DitConfig c = DitConfig.read(Path.of(System.getProperty("kaze.parity.dir", "../shared/fixtures/wan-parity"), "dit_config.json"));
        assertThat(c.dim()).isEqualTo(64);
        assertThat(c.numHeads()).isEqualTo(4);
        assertThat(c.headDim()).isEqualTo(16);
        assertThat(c.textLen()).isEqualTo(24);
        assertThat(c.patchSize()).containsExactly(1, 2, 2);
        assertThat(c.patchFeatures()).isEqualTo(64);
    }

    @Test
    void presetsMatchTheReference() {
        assertThat(DitConfig.WAN_14B.headDim()).isEqualTo(128);
        assertThat(DitConfig.WAN_1_3B.headDim()).isEqualTo(128);
        assertThat(DitConfig.WAN_14B.numLayers()).isEqualTo(40);
        assertThat(DitConfig.WAN_1_3B.ffnDim()).isEqualTo(8960);
    }

    @Test
    void refusesWhatItCannotRun() {
        assertThatThrownBy(() -> DitConfig.fromJson("{\"model_type\":\"i2v\"}")).hasMessageContaining("model_type 'i2v'");
        assertThatThrownBy(() -> DitConfig.fromJson("{\"dim\":100,\"num_heads\":3}")).hasMessageContaining("divisible by num_heads");
        assertThatThrownBy(() -> DitConfig.fromJson("{\"dim\":\"big\"}")).hasMessageContaining("dim must be an integer");
        assertThatThrownBy(() -> DitConfig.fromJson("{\"window_size\":[256,256]}")).hasMessageContaining("window_size");
        assertThatThrownBy(() -> DitConfig.fromJson("not json")).hasMessageContaining("not valid JSON");
    }
}
