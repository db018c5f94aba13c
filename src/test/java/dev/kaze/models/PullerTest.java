package dev.kaze.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kaze.pipeline.ModelDirectory;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PullerTest {
    @TempDir Path dir;
    FakeHub fake;
    final List<PullEvent> events = new CopyOnWriteArrayList<>();

    @BeforeEach
    void start() throws IOException {
        fake = new FakeHub();
        for (String repo : List.of(Catalog.WAN_1_3B, Catalog.WAN_14B)) {
            fake.put(repo, "config.json", "{\"dim\": 1536}".getBytes());
            fake.put(repo, "diffusion_pytorch_model.safetensors", FakeHub.bytes(5000, 1));
            fake.put(repo, "models_t5_umt5-xxl-enc-bf16.pth", FakeHub.bytes(3000, 2));
            fake.put(repo, "Wan2.1_VAE.pth", FakeHub.bytes(2000, 3));
            fake.put(repo, "google/umt5-xxl/tokenizer.json", "{\"model\": {}}".getBytes());
            fake.put(repo, "google/umt5-xxl/spiece.model", FakeHub.bytes(700, 4));
            fake.put(repo, "README.md", "# not pulled".getBytes());
        }
        fake.put(Catalog.COMFY_REPACK, "split_files/diffusion_models/wan2.1_t2v_14B_fp8_e4m3fn.safetensors", FakeHub.bytes(6000, 5));
        fake.put(Catalog.COMFY_REPACK, "split_files/vae/wan_2.1_vae.safetensors", FakeHub.bytes(2500, 6));
    }

    @AfterEach
    void stop() { fake.close(); }

    Puller puller(Map<String, String> env, FreeSpace freeSpace) {
        HttpGet http = HttpGet.create();
        Map<String, String> withEndpoint = new HashMap<>(env);
        withEndpoint.putIfAbsent("HF_ENDPOINT", fake.endpoint().toString());
        withEndpoint.putIfAbsent("CIVITAI_ENDPOINT", fake.endpoint().toString());
        return new Puller(HubClient.fromEnv(withEndpoint, http), CivitaiClient.fromEnv(withEndpoint, http),
                new Downloader(http, freeSpace, 3, Duration.ofMillis(10)), new ModelPaths(dir.resolve("models"), dir.resolve("loras")));
    }

    Puller puller() { return puller(Map.of(), FreeSpace.DISK); }

    @Test
    void cleanPullLandsWhereModelDirectoryFindsIt() throws IOException {
        Puller puller = puller();
        List<PullEvent.FileDone> done = puller.pull(Catalog.wan1_3b(), events::add);

        Path model = dir.resolve("models/wan2.1-t2v-1.3b");
        ModelDirectory.ModelFiles files = ModelDirectory.scan(model);
        assertEquals(ModelDirectory.Layout.HUGGING_FACE, files.layout());
        assertEquals(model.resolve("diffusion_pytorch_model.safetensors"), files.dit());
        assertEquals(model.resolve("models_t5_umt5-xxl-enc-bf16.pth"), files.textEncoder());
        assertEquals(model.resolve("google/umt5-xxl/tokenizer.json"), files.tokenizer());
        assertEquals(model.resolve("Wan2.1_VAE.pth"), files.vae());
        assertArrayEquals(FakeHub.bytes(5000, 1), Files.readAllBytes(files.dit()));
        assertArrayEquals("{\"dim\": 1536}".getBytes(), Files.readAllBytes(files.ditConfig()));
        // the optional tokenizer files the repository has are pulled, the ones it lacks are skipped
        assertTrue(Files.isRegularFile(model.resolve("google/umt5-xxl/spiece.model")));
        assertFalse(Files.exists(model.resolve("google/umt5-xxl/tokenizer_config.json")));
        assertEquals(6, done.size());
        assertTrue(done.stream().allMatch(PullEvent.FileDone::downloaded));
        assertFalse(Files.exists(model.resolve("README.md")));
        // LFS files came from the CDN, git files through the hub's relative redirect; the CDN never saw a token
        assertEquals(4, fake.cdnRequests.size());
        assertTrue(fake.hubRequests.stream().anyMatch(r -> r.path().contains("/raw/main/config.json")));

        BundleStatus status = BundleStatus.of(Catalog.wan1_3b(), puller.paths());
        assertTrue(status.ready());
        BundleStatus.PartStatus dit = status.parts().get(1);
        assertEquals(BundleStatus.State.VERIFIED, dit.state());
        assertEquals(5000, dit.bytes());
        assertEquals("sha256", dit.algorithm());
        assertEquals(FakeHub.sha256(FakeHub.bytes(5000, 1)), dit.hash());
        assertEquals("git-sha1", status.parts().get(0).algorithm());
        assertEquals(BundleStatus.State.MISSING, status.parts().get(5).state());   // tokenizer_config.json, optional
        assertFalse(BundleStatus.of(Catalog.wan14b(), puller.paths()).ready());
    }

    @Test
    void comfyLayoutBundleIsFoundByModelDirectory() {
        puller().pull(Catalog.wan14bFp8(), events::add);
        Path model = dir.resolve("models/wan2.1-t2v-14b-fp8");
        ModelDirectory.ModelFiles files = ModelDirectory.scan(model);
        assertEquals(ModelDirectory.Layout.COMFYUI, files.layout());
        assertEquals(model.resolve("diffusion_models/wan2.1_t2v_14B_fp8_e4m3fn.safetensors"), files.dit());
        assertEquals(model.resolve("text_encoders/models_t5_umt5-xxl-enc-bf16.pth"), files.textEncoder());
        assertEquals(model.resolve("text_encoders/umt5-xxl/tokenizer.json"), files.tokenizer());
        assertEquals(model.resolve("vae/wan_2.1_vae.safetensors"), files.vae());
        assertNull(files.ditConfig());
    }

    @Test
    void verifiedFilesAreSkippedWithoutDownloadingOrHashingAgain() throws IOException {
        puller().pull(Catalog.wan1_3b(), PullListener.NONE);
        int cdn = fake.cdnRequests.size();
        List<PullEvent.FileDone> again = puller().pull(Catalog.wan1_3b(), events::add);
        assertEquals(cdn, fake.cdnRequests.size());
        assertTrue(again.stream().noneMatch(PullEvent.FileDone::downloaded));
        assertTrue(events.stream().noneMatch(e -> e instanceof PullEvent.FileStarted));

        // a file put there by hand with the right bytes is hashed once and adopted, not downloaded
        Path vae = dir.resolve("models/wan2.1-t2v-1.3b/Wan2.1_VAE.pth");
        Files.delete(vae.resolveSibling(".kaze/Wan2.1_VAE.pth.verified"));
        puller().pull(Catalog.wan1_3b(), PullListener.NONE);
        assertEquals(cdn, fake.cdnRequests.size());
        assertTrue(Files.exists(vae.resolveSibling(".kaze/Wan2.1_VAE.pth.verified")));

        // a file with other bytes of the same size is replaced
        Files.write(vae, FakeHub.bytes(2000, 99));
        puller().pull(Catalog.wan1_3b(), PullListener.NONE);
        assertArrayEquals(FakeHub.bytes(2000, 3), Files.readAllBytes(vae));
        assertEquals(cdn + 1, fake.cdnRequests.size());
    }

    @Test
    void gatedRepositoryAsksForTheLicenceAndToken() {
        fake.gate(Catalog.WAN_1_3B);
        PullException e = assertThrows(PullException.class, () -> puller().pull(Catalog.wan1_3b(), events::add));
        assertTrue(e.getMessage().contains("HTTP 401"), e.getMessage());
        assertTrue(e.getMessage().contains("accept the licence at " + fake.endpoint() + "/" + Catalog.WAN_1_3B + " and set HF_TOKEN"), e.getMessage());
        assertFalse(Files.exists(dir.resolve("models/wan2.1-t2v-1.3b/config.json")));

        PullException wrong = assertThrows(PullException.class, () -> puller(Map.of("HF_TOKEN", "hf_wrong"), FreeSpace.DISK).pull(Catalog.wan1_3b(), events::add));
        assertTrue(wrong.getMessage().contains("HF_TOKEN is set but was refused"), wrong.getMessage());

        puller(Map.of("HF_TOKEN", FakeHub.HF_TOKEN), FreeSpace.DISK).pull(Catalog.wan1_3b(), events::add);
        ModelDirectory.scan(dir.resolve("models/wan2.1-t2v-1.3b"));
        assertTrue(fake.hubRequests.stream().filter(r -> r.path().contains("/raw/")).allMatch(r -> ("Bearer " + FakeHub.HF_TOKEN).equals(r.authorization())),
                "the token follows a relative redirect on the hub's own host");
        assertTrue(fake.cdnRequests.stream().allMatch(r -> r.authorization() == null), "the token never goes to the CDN");
    }

    @Test
    void missingRepositoryFileAndRevisionAreNamed() {
        Bundle repo = new Bundle("x", "x", Bundle.Kind.MODEL, List.of(new Bundle.Part(new Bundle.HubFile("nobody/nothing", "main", "a.bin"), "a.bin", false)));
        PullException e = assertThrows(PullException.class, () -> puller().pull(repo, events::add));
        assertTrue(e.getMessage().startsWith("listing nobody/nothing@main: the repository was not found"), e.getMessage());

        Bundle file = new Bundle("x", "x", Bundle.Kind.MODEL, List.of(new Bundle.Part(new Bundle.HubFile(Catalog.WAN_14B, "main", "no_such.safetensors"), "a", false)));
        PullException f = assertThrows(PullException.class, () -> puller().pull(file, events::add));
        assertTrue(f.getMessage().contains("has no file no_such.safetensors at revision main"), f.getMessage());

        Bundle revision = new Bundle("x", "x", Bundle.Kind.MODEL, List.of(new Bundle.Part(new Bundle.HubFile(Catalog.WAN_14B, "v9", "config.json"), "a", false)));
        assertThrows(PullException.class, () -> puller().pull(revision, events::add));

        // a 404 at download time (the listing and the files disagree) names the file
        RemoteFile gone = new RemoteFile(Catalog.WAN_14B + "@main:gone.pth", URI.create(fake.endpoint() + "/" + Catalog.WAN_14B + "/resolve/main/gone.pth"),
                10, true, null, Access.NONE);
        PullException g = assertThrows(PullException.class,
                () -> new Downloader(HttpGet.create(), FreeSpace.DISK, 1, Duration.ZERO).fetch(gone, dir.resolve("gone.pth"), events::add));
        assertTrue(g.getMessage().contains("gone.pth: not found on 127.0.0.1 (HTTP 404"), g.getMessage());
    }

    @Test
    void fullDiskIsReportedBeforeAnythingIsWritten() {
        long free = 3000 + Downloader.MARGIN;
        PullException.DiskFull e = assertThrows(PullException.DiskFull.class, () -> puller(Map.of(), d -> free).pull(Catalog.wan1_3b(), events::add));
        assertEquals(5000 + 3000 + 2000 + "{\"dim\": 1536}".length() + "{\"model\": {}}".length() + 700, e.needed());
        assertEquals(free, e.free());
        assertTrue(e.getMessage().contains("not enough disk space in " + dir.resolve("models/wan2.1-t2v-1.3b")), e.getMessage());
        assertTrue(e.getMessage().contains("it needs 10.7 kB"), e.getMessage());
        assertFalse(Files.exists(dir.resolve("models")));
        assertTrue(events.isEmpty());
        assertEquals(0, fake.cdnRequests.size());
    }

    @Test
    void treeListingFollowsPages() {
        fake.pageSize = 2;
        puller().pull(Catalog.wan1_3b(), events::add);
        ModelDirectory.scan(dir.resolve("models/wan2.1-t2v-1.3b"));
        assertTrue(fake.hubRequests.stream().filter(r -> r.path().contains("/tree/")).count() >= 4);
    }
}
