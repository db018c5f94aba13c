package dev.kaze.pipeline;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ModelDirectoryTest {
    static void touch(Path root, String... names) throws IOException {
        for (String n : names) {
            Path p = root.resolve(n);
            Files.createDirectories(p.getParent());
            Files.writeString(p, "x");
        }
    }

    @Test
    void recognisesTheHuggingFaceLayout(@TempDir Path root) throws IOException {
        touch(root, "config.json", "diffusion_pytorch_model.safetensors.index.json", "diffusion_pytorch_model-00001-of-00006.safetensors",
                "models_t5_umt5-xxl-enc-bf16.pth", "Wan2.1_VAE.pth", "google/umt5-xxl/tokenizer.json", "google/umt5-xxl/spiece.model");
        ModelDirectory.ModelFiles f = ModelDirectory.scan(root);
        assertThat(f.layout()).isEqualTo(ModelDirectory.Layout.HUGGING_FACE);
        assertThat(f.dit().getFileName().toString()).isEqualTo("diffusion_pytorch_model.safetensors.index.json");
        assertThat(f.ditConfig()).isEqualTo(root.resolve("config.json"));
        assertThat(f.textEncoder().getFileName().toString()).isEqualTo("models_t5_umt5-xxl-enc-bf16.pth");
        assertThat(f.vae().getFileName().toString()).isEqualTo("Wan2.1_VAE.pth");
        assertThat(f.tokenizer()).isEqualTo(root.resolve("google/umt5-xxl/tokenizer.json"));
        assertThat(f.loras()).isNull();
    }

    @Test
    void recognisesTheComfyUiLayout(@TempDir Path root) throws IOException {
        touch(root, "diffusion_models/wan2.1_t2v_14B_fp8_e4m3fn.safetensors", "text_encoders/umt5_xxl_fp16.safetensors",
                "text_encoders/umt5-xxl/tokenizer.json", "vae/wan_2.1_vae.safetensors", "loras/ghibli.safetensors");
        ModelDirectory.ModelFiles f = ModelDirectory.scan(root);
        assertThat(f.layout()).isEqualTo(ModelDirectory.Layout.COMFYUI);
        assertThat(f.dit().getFileName().toString()).isEqualTo("wan2.1_t2v_14B_fp8_e4m3fn.safetensors");
        assertThat(f.ditConfig()).isNull();
        assertThat(f.textEncoder().getFileName().toString()).isEqualTo("umt5_xxl_fp16.safetensors");
        assertThat(f.vae().getFileName().toString()).isEqualTo("wan_2.1_vae.safetensors");
        assertThat(f.loras()).isEqualTo(root.resolve("loras"));
    }

    @Test
    void saysWhatIsMissingAndWhere(@TempDir Path root) throws IOException {
        touch(root, "config.json", "diffusion_pytorch_model.safetensors");
        assertThatThrownBy(() -> ModelDirectory.scan(root))
                .isInstanceOf(ModelDirectory.IncompleteException.class)
                .hasMessageContaining("hugging face layout")
                .hasMessageContaining("umT5 encoder").hasMessageContaining("looked in " + root)
                .hasMessageContaining("tokenizer: looked for " + root.resolve("google/umt5-xxl/tokenizer.json"))
                .hasMessageContaining("the VAE")
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("the DiT weights"));
        assertThatThrownBy(() -> ModelDirectory.scan(root.resolve("nope"))).hasMessageContaining("does not exist");
    }
}
