package dev.kaze.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kaze.pipeline.ModelDirectory;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelsCommandTest {
    @TempDir Path dir;
    final ByteArrayOutputStream out = new ByteArrayOutputStream();
    final ByteArrayOutputStream err = new ByteArrayOutputStream();

    int run(FreeSpace freeSpace, Map<String, String> env, String... args) {
        return new ModelsCommand(freeSpace, false, Duration.ZERO).run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8), env);
    }

    String out() { return out.toString(StandardCharsets.UTF_8); }

    String err() { return err.toString(StandardCharsets.UTF_8); }

    @Test
    void pullHonoursHfEndpointAndTheRootThenStatusShowsIt() throws IOException {
        try (FakeHub fake = new FakeHub()) {
            String repo = Catalog.WAN_1_3B;
            fake.put(repo, "config.json", "{}".getBytes());
            fake.put(repo, "diffusion_pytorch_model.safetensors", FakeHub.bytes(3000, 1));
            fake.put(repo, "models_t5_umt5-xxl-enc-bf16.pth", FakeHub.bytes(2000, 2));
            fake.put(repo, "Wan2.1_VAE.pth", FakeHub.bytes(1000, 3));
            fake.put(repo, "google/umt5-xxl/tokenizer.json", "{}".getBytes());
            fake.gate(repo);
            Map<String, String> env = Map.of("HF_ENDPOINT", fake.endpoint() + "/", "HF_TOKEN", FakeHub.HF_TOKEN,
                    "KAZE_MODELS_ROOT", dir.resolve("ignored").toString());

            assertEquals(0, run(FreeSpace.DISK, env, "pull", "wan2.1-t2v-1.3b", "--root", dir.toString()), err());
            Path model = dir.resolve("wan2.1-t2v-1.3b");
            assertEquals("ready: run Kaze with kaze.models.dir=" + model.toAbsolutePath() + "\n", out());
            assertTrue(err().contains("downloading diffusion_pytorch_model.safetensors (3.0 kB) from " + repo + "@main:diffusion_pytorch_model.safetensors"), err());
            assertTrue(err().contains("wan2.1-t2v-1.3b: 5 file(s), 6.0 kB in " + model.toAbsolutePath()), err());
            ModelDirectory.scan(model);
            assertFalse(Files.exists(dir.resolve("ignored")));
            assertTrue(fake.hubRequests.size() > 0);

            out.reset();
            assertEquals(0, run(FreeSpace.DISK, Map.of("KAZE_MODELS_ROOT", dir.toString()), "status", "wan2.1-t2v-1.3b"));
            assertTrue(out().startsWith("wan2.1-t2v-1.3b: ready in " + model.toAbsolutePath()), out());
            assertTrue(out().contains("verified       3.0 kB  diffusion_pytorch_model.safetensors  sha256:" + FakeHub.sha256(FakeHub.bytes(3000, 1))), out());
            assertTrue(out().lines().anyMatch(l -> l.startsWith("  missing") && l.endsWith("google/umt5-xxl/spiece.model  (optional)")), out());
        }
    }

    @Test
    void failuresGoToStandardErrorWithExitStatusOne() throws IOException {
        try (FakeHub fake = new FakeHub()) {
            fake.put(Catalog.KIJAI, "Lightx2v/lightx2v_T2V_14B_cfg_step_distill_v2_lora_rank128_bf16.safetensors", FakeHub.bytes(5000, 4));
            Map<String, String> env = Map.of("HF_ENDPOINT", fake.endpoint().toString(), "KAZE_MODELS_ROOT", dir.toString());
            assertEquals(1, run(d -> 10, env, "pull", "lightx2v"));
            assertTrue(err().contains("error: bundle lightx2v: not enough disk space in " + dir.resolve("loras").toAbsolutePath()), err());

            err.reset();
            assertEquals(0, run(FreeSpace.DISK, env, "pull", "lightx2v"), err());
            assertEquals("LoRA lightx2v.safetensors is in " + dir.resolve("loras").toAbsolutePath() + " (kaze.models.loras="
                    + dir.resolve("loras").toAbsolutePath() + ")\n", out());
        }
    }

    @Test
    void listAndUsage() {
        assertEquals(0, run(FreeSpace.DISK, Map.of(), "list"));
        for (String name : new String[] {"wan2.1-t2v-14b ", "wan2.1-t2v-14b-fp8", "wan2.1-t2v-1.3b", "lightx2v", "ghibli", "url:<https://...>"})
            assertTrue(out().contains(name), out());
        assertEquals(2, run(FreeSpace.DISK, Map.of(), "pull", "wan9"));
        assertTrue(err().contains("no bundle named wan9; known: wan2.1-t2v-14b, wan2.1-t2v-14b-fp8"), err());
        assertEquals(2, run(FreeSpace.DISK, Map.of(), "pull", "ghibli", "--rank", "64"));
        assertEquals(2, run(FreeSpace.DISK, Map.of(), "pull", "lightx2v", "--rank", "16"));
        assertEquals(2, run(FreeSpace.DISK, Map.of(), "fetch"));
        assertEquals(2, run(FreeSpace.DISK, Map.of(), "pull", "lightx2v", "--root"));
        assertEquals(2, run(FreeSpace.DISK, Map.of()));
        assertTrue(err().contains("usage: kaze models list"), err());
    }
}
