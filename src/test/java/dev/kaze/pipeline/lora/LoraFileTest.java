package dev.kaze.pipeline.lora;

import dev.kaze.pipeline.lora.LoraPatch.Diff;
import dev.kaze.pipeline.lora.LoraPatch.LowRank;
import dev.kaze.tensor.Checkpoint;
import dev.kaze.tensor.WeightsException;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Reading the three LoRA key formats against the fixture DiT, and refusing files that do not fit it. */
class LoraFileTest {
    static final Path DIR = Path.of(System.getProperty("kaze.parity.dir", "../shared/fixtures/wan-parity")).toAbsolutePath().normalize();
    static final List<String> BLOCK_LINEARS = List.of("self_attn.q", "self_attn.k", "self_attn.v", "self_attn.o",
            "cross_attn.q", "cross_attn.k", "cross_attn.v", "cross_attn.o", "ffn.0", "ffn.2");

    static Checkpoint dit;
    PointerScope scope;
    @TempDir Path tmp;

    @BeforeAll static void openDit() { dit = Checkpoint.open(DIR.resolve("dit.safetensors")); }

    @AfterAll static void closeDit() { dit.close(); }

    @BeforeEach void scope() { scope = new PointerScope(); }

    @AfterEach void closeScope() { scope.close(); }

    /** blocks.{0,1}.{module}{suffix} for every block Linear: the fixture LoRAs' coverage, written out independently. */
    static Set<String> blockLinears(String suffix) {
        Set<String> keys = new TreeSet<>();
        for (int i = 0; i < 2; i++) for (String m : BLOCK_LINEARS) keys.add("blocks." + i + "." + m + suffix);
        return keys;
    }

    static Map<Class<?>, Long> countByKind(LoraFile f) {
        return f.patches().stream().collect(Collectors.groupingBy(Object::getClass, Collectors.counting()));
    }

    @Test void musubiFileMapsEveryKey() {
        try (LoraFile f = LoraFile.read(DIR.resolve("lora_musubi.safetensors"), dit)) {
            assertEquals(Set.of(LoraFormat.MUSUBI), f.formats());
            assertEquals(Map.of(LowRank.class, 20L), countByKind(f));
            assertEquals(blockLinears(".weight"), new TreeSet<>(f.targets()));
            LowRank q = (LowRank) f.patches("blocks.1.self_attn.q.weight").getFirst();
            assertEquals("lora_unet_blocks_1_self_attn_q.lora_up.weight", q.up());
            assertEquals("lora_unet_blocks_1_self_attn_q.lora_down.weight", q.down());
            // the file's metadata says dim 4, alpha 2: scale 2/4 for every pair
            assertEquals("4", f.metadata().get("ss_network_dim"));
            assertEquals(2.0, Double.parseDouble(f.metadata().get("ss_network_alpha")));
            for (LoraPatch p : f.patches()) {
                LowRank lr = (LowRank) p;
                assertEquals(4, lr.rank(), p.target());
                assertEquals(2.0, lr.alpha().orElseThrow(), p.target());
                assertEquals(0.5, lr.scale(), p.target());
            }
        }
    }

    @Test void comfyFileMapsEveryKeyIncludingBiasAndNormDiffs() {
        try (LoraFile f = LoraFile.read(DIR.resolve("lora_comfy.safetensors"), dit)) {
            assertEquals(Set.of(LoraFormat.COMFY), f.formats());
            assertEquals(Map.of(LowRank.class, 20L, Diff.class, 22L), countByKind(f));
            Set<String> lowRank = new TreeSet<>(), diffs = new TreeSet<>();
            for (LoraPatch p : f.patches()) {
                if (p instanceof LowRank lr) {
                    lowRank.add(lr.target());
                    assertEquals(8, lr.rank());
                    assertTrue(lr.alpha().isEmpty(), "no alpha stored ⇒ none");
                    assertEquals(1.0, lr.scale());
                } else {
                    diffs.add(p.target());
                    assertEquals(1.0, p.scale());
                }
            }
            assertEquals(blockLinears(".weight"), lowRank);
            Set<String> expectedDiffs = new TreeSet<>(blockLinears(".bias"));
            expectedDiffs.addAll(List.of("blocks.0.norm3.weight", "blocks.1.norm3.weight"));
            assertEquals(expectedDiffs, diffs);
            assertEquals("diffusion_model.blocks.0.ffn.0.diff_b", ((Diff) f.patches("blocks.0.ffn.0.bias").getFirst()).tensor());
            assertEquals("diffusion_model.blocks.1.norm3.diff", ((Diff) f.patches("blocks.1.norm3.weight").getFirst()).tensor());
        }
    }

    @Test void diffusersFileMapsAttn1ToSelfAttentionAndFfnNet() {
        try (LoraFile f = LoraFile.read(DIR.resolve("lora_diffusers.safetensors"), dit)) {
            assertEquals(Set.of(LoraFormat.DIFFUSERS), f.formats());
            assertEquals(Map.of(LowRank.class, 20L), countByKind(f));
            assertEquals(blockLinears(".weight"), new TreeSet<>(f.targets()));
            Function<String, String> downOf = key -> ((LowRank) f.patches(key).getFirst()).down();
            assertAll(
                    () -> assertEquals("transformer.blocks.0.attn1.to_q.lora_A.weight", downOf.apply("blocks.0.self_attn.q.weight")),
                    () -> assertEquals("transformer.blocks.1.attn1.to_out.0.lora_A.weight", downOf.apply("blocks.1.self_attn.o.weight")),
                    () -> assertEquals("transformer.blocks.0.attn2.to_k.lora_A.weight", downOf.apply("blocks.0.cross_attn.k.weight")),
                    () -> assertEquals("transformer.blocks.1.ffn.net.0.proj.lora_A.weight", downOf.apply("blocks.1.ffn.0.weight")),
                    () -> assertEquals("transformer.blocks.0.ffn.net.2.lora_A.weight", downOf.apply("blocks.0.ffn.2.weight")));
            for (LoraPatch p : f.patches()) {
                assertEquals(2, ((LowRank) p).rank());
                assertEquals(1.0, p.scale(), "diffusers files carry no alpha ⇒ scale 1");
            }
        }
    }

    @Test void unmappableKeysAreAllNamed() throws Exception {
        Path file = new CraftedLora()
                .put("diffusion_model.blocks.0.self_attn.q.lora_down.weight", torch.randn(4, 64))
                .put("diffusion_model.blocks.0.self_attn.q.lora_up.weight", torch.randn(64, 4))
                .put("diffusion_model.blocks.7.self_attn.q.lora_down.weight", torch.randn(4, 64))   // no block 7
                .put("lora_unet_blocks_0_self_attn_x.lora_up.weight", torch.randn(64, 4))          // no module x
                .put("transformer.blocks.0.attn3.to_q.lora_A.weight", torch.randn(4, 64))          // no attn3
                .put("diffusion_model.blocks.0.self_attn.q.lora_mid.weight", torch.randn(4, 4))    // LoCon, unsupported
                .write(tmp.resolve("bad_keys.safetensors"));
        WeightsException e = assertThrows(WeightsException.class, () -> LoraFile.read(file, dit));
        String m = e.getMessage();
        assertAll(
                () -> assertTrue(m.contains(file.toString()), m),
                () -> assertTrue(m.contains("'diffusion_model.blocks.7.self_attn.q.lora_down.weight'"), m),
                () -> assertTrue(m.contains("'lora_unet_blocks_0_self_attn_x.lora_up.weight'"), m),
                () -> assertTrue(m.contains("'transformer.blocks.0.attn3.to_q.lora_A.weight'"), m),
                () -> assertTrue(m.contains("'diffusion_model.blocks.0.self_attn.q.lora_mid.weight'"), m),
                () -> assertTrue(m.contains("4 problem(s)"), m));
    }

    @Test void shapeMismatchesNameTheTensorAndTheTarget() throws Exception {
        Path file = new CraftedLora()
                .put("diffusion_model.blocks.0.self_attn.q.lora_down.weight", torch.randn(4, 32))
                .put("diffusion_model.blocks.0.self_attn.q.lora_up.weight", torch.randn(64, 4))
                .put("diffusion_model.blocks.1.norm3.diff", torch.randn(32))
                .write(tmp.resolve("bad_shapes.safetensors"));
        WeightsException e = assertThrows(WeightsException.class, () -> LoraFile.read(file, dit));
        String m = e.getMessage();
        assertAll(
                () -> assertTrue(m.contains(file.toString()), m),
                () -> assertTrue(m.contains("'diffusion_model.blocks.0.self_attn.q.lora_down.weight' [4, 32]"), m),
                () -> assertTrue(m.contains("'blocks.0.self_attn.q.weight' [64, 64]"), m),
                () -> assertTrue(m.contains("'diffusion_model.blocks.1.norm3.diff' has shape [32]"), m),
                () -> assertTrue(m.contains("'blocks.1.norm3.weight' has shape [64]"), m));
    }

    @Test void halfAPairIsRefused() throws Exception {
        Path file = new CraftedLora()
                .put("lora_unet_blocks_0_ffn_0.lora_down.weight", torch.randn(4, 64))
                .put("lora_unet_blocks_0_ffn_0.alpha", torch.ones().mul(new Scalar(4.0)))
                .write(tmp.resolve("half.safetensors"));
        WeightsException e = assertThrows(WeightsException.class, () -> LoraFile.read(file, dit));
        assertTrue(e.getMessage().contains("'blocks.0.ffn.0' is incomplete"), e.getMessage());
        assertTrue(e.getMessage().contains("no lora_up/lora_B"), e.getMessage());
    }

    @Test void sameModuleTwiceIsRefused() throws Exception {
        Path file = new CraftedLora()
                .put("lora_unet_blocks_0_ffn_0.lora_down.weight", torch.randn(4, 64))
                .put("lora_unet_blocks_0_ffn_0.lora_up.weight", torch.randn(128, 4))
                .put("diffusion_model.blocks.0.ffn.0.lora_A.weight", torch.randn(4, 64))
                .put("diffusion_model.blocks.0.ffn.0.lora_B.weight", torch.randn(128, 4))
                .write(tmp.resolve("twice.safetensors"));
        WeightsException e = assertThrows(WeightsException.class, () -> LoraFile.read(file, dit));
        assertTrue(e.getMessage().contains("'lora_unet_blocks_0_ffn_0.lora_down.weight' and 'diffusion_model.blocks.0.ffn.0.lora_A.weight'"),
                e.getMessage());
    }

    @Test void peftBareAndLightx2vNamesMap() throws Exception {
        Path file = new CraftedLora()
                .put("base_model.model.blocks.0.attn1.to_q.lora_A.default.weight", torch.randn(2, 64))
                .put("base_model.model.blocks.0.attn1.to_q.lora_B.default.weight", torch.randn(64, 2))
                .put("base_model.model.blocks.0.attn1.to_q.lora_B.default.bias", torch.randn(64))
                .put("transformer.blocks.1.norm2.lora_A.weight", torch.randn(1, 1))                // diffusers norm2 = norm3
                .put("transformer.blocks.1.norm2.lora_B.weight", torch.randn(64, 1))
                .put("transformer.condition_embedder.time_proj.lora_A.weight", torch.randn(2, 64))
                .put("transformer.condition_embedder.time_proj.lora_B.weight", torch.randn(384, 2))
                .put("transformer.proj_out.lora_A.weight", torch.randn(2, 64))
                .put("transformer.proj_out.lora_B.weight", torch.randn(64, 2))
                .put("blocks.1.cross_attn.v.lora_down.weight", torch.randn(2, 64))                 // bare, original names
                .put("blocks.1.cross_attn.v.lora_up.weight", torch.randn(64, 2))
                .put("diffusion_model.blocks.0.diff_m", torch.randn(1, 6, 64))                      // lightx2v modulation
                .put("diffusion_model.blocks.1.modulation.diff", torch.randn(1, 6, 64))             // Kijai's rewrite of it
                .put("diffusion_model.head.diff_m", torch.randn(1, 2, 64))
                .put("diffusion_model.patch_embedding.diff", torch.randn(64, 16, 1, 2, 2))
                .put("diffusion_model.blocks.0.cross_attn.norm_k.diff", torch.randn(64))
                .put("lora_unet_text_embedding_0.lora_down.weight", torch.randn(2, 32))
                .put("lora_unet_text_embedding_0.lora_up.weight", torch.randn(64, 2))
                .put("lora_unet_text_embedding_0.alpha", torch.ones())
                .write(tmp.resolve("mixed.safetensors"));
        // norm2 of diffusers is a 1-D weight, not a LoRA target; its pair does not fit the shape and is named
        WeightsException e = assertThrows(WeightsException.class, () -> LoraFile.read(file, dit));
        assertTrue(e.getMessage().contains("'blocks.1.norm3.weight' [64]"), e.getMessage());
        assertTrue(e.getMessage().contains("1 problem(s)"), e.getMessage());

        Path ok = new CraftedLora()
                .put("base_model.model.blocks.0.attn1.to_q.lora_A.default.weight", torch.randn(2, 64))
                .put("base_model.model.blocks.0.attn1.to_q.lora_B.default.weight", torch.randn(64, 2))
                .put("base_model.model.blocks.0.attn1.to_q.lora_B.default.bias", torch.randn(64))
                .put("transformer.blocks.1.norm2.diff", torch.randn(64))
                .put("transformer.condition_embedder.time_proj.lora_A.weight", torch.randn(2, 64))
                .put("transformer.condition_embedder.time_proj.lora_B.weight", torch.randn(384, 2))
                .put("transformer.proj_out.lora_A.weight", torch.randn(2, 64))
                .put("transformer.proj_out.lora_B.weight", torch.randn(64, 2))
                .put("blocks.1.cross_attn.v.lora_down.weight", torch.randn(2, 64))
                .put("blocks.1.cross_attn.v.lora_up.weight", torch.randn(64, 2))
                .put("diffusion_model.blocks.0.diff_m", torch.randn(1, 6, 64))
                .put("diffusion_model.blocks.1.modulation.diff", torch.randn(1, 6, 64))
                .put("diffusion_model.head.diff_m", torch.randn(1, 2, 64))
                .put("diffusion_model.patch_embedding.diff", torch.randn(64, 16, 1, 2, 2))
                .put("diffusion_model.blocks.0.cross_attn.norm_k.diff", torch.randn(64))
                .put("lora_unet_text_embedding_0.lora_down.weight", torch.randn(2, 32))
                .put("lora_unet_text_embedding_0.lora_up.weight", torch.randn(64, 2))
                .put("lora_unet_text_embedding_0.alpha", torch.ones())
                .write(tmp.resolve("mixed_ok.safetensors"));
        try (LoraFile f = LoraFile.read(ok, dit)) {
            Map<String, String> kindOf = new HashMap<>();
            for (LoraPatch p : f.patches()) kindOf.put(p.target(), p.getClass().getSimpleName());
            assertEquals(Map.ofEntries(
                    Map.entry("blocks.0.self_attn.q.weight", "LowRank"),
                    Map.entry("blocks.0.self_attn.q.bias", "Diff"),
                    Map.entry("blocks.1.norm3.weight", "Diff"),
                    Map.entry("time_projection.1.weight", "LowRank"),
                    Map.entry("head.head.weight", "LowRank"),
                    Map.entry("blocks.1.cross_attn.v.weight", "LowRank"),
                    Map.entry("blocks.0.modulation", "Diff"),
                    Map.entry("blocks.1.modulation", "Diff"),
                    Map.entry("head.modulation", "Diff"),
                    Map.entry("patch_embedding.weight", "Diff"),
                    Map.entry("blocks.0.cross_attn.norm_k.weight", "Diff"),
                    Map.entry("text_embedding.0.weight", "LowRank")), kindOf);
            assertEquals(Set.of(LoraFormat.DIFFUSERS, LoraFormat.BARE, LoraFormat.COMFY, LoraFormat.MUSUBI), f.formats());
            assertEquals(0.5, f.patches("text_embedding.0.weight").getFirst().scale(), "alpha 1 / rank 2");
            assertInstanceOf(Diff.class, f.patches("blocks.0.self_attn.q.bias").getFirst());
        }
    }

    @Test void emptyFileIsRefused() throws Exception {
        Path file = new CraftedLora().write(tmp.resolve("empty.safetensors"));
        WeightsException e = assertThrows(WeightsException.class, () -> LoraFile.read(file, dit));
        assertTrue(e.getMessage().contains("holds no tensors"), e.getMessage());
    }
}
