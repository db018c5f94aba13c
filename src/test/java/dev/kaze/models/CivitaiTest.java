package dev.kaze.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CivitaiTest {
    static final byte[] LORA = FakeHub.bytes(9000, 11);

    @TempDir Path dir;
    FakeHub fake;

    @BeforeEach
    void start() throws IOException {
        fake = new FakeHub();
        fake.civitaiModel(Catalog.GHIBLI_CIVITAI_MODEL, 1587891, "studio_ghibli_wan14b_t2v_v01.safetensors", LORA);
        fake.put(Catalog.KIJAI, "Lightx2v/lightx2v_T2V_14B_cfg_step_distill_v2_lora_rank64_bf16.safetensors", FakeHub.bytes(3000, 12));
    }

    @AfterEach
    void stop() { fake.close(); }

    Puller puller(String civitaiToken) {
        HttpGet http = HttpGet.create();
        return new Puller(new HubClient(fake.endpoint(), null, http), new CivitaiClient(fake.endpoint(), civitaiToken, http),
                new Downloader(http, FreeSpace.DISK, 2, Duration.ofMillis(10)), new ModelPaths(dir.resolve("models"), dir.resolve("loras")));
    }

    @Test
    void ghibliResolvesThroughCivitaisApiAndLandsInTheLoraDirectory() throws IOException {
        RemoteFile file = new CivitaiClient(fake.endpoint(), FakeHub.CIVITAI_TOKEN, HttpGet.create()).latest(Catalog.GHIBLI_CIVITAI_MODEL);
        assertEquals(Checksum.sha256(FakeHub.sha256(LORA)), file.checksum());
        assertFalse(file.exactSize());
        assertEquals(9000, file.size());
        assertTrue(file.label().contains("studio_ghibli_wan14b_t2v_v01.safetensors"), file.label());

        puller(FakeHub.CIVITAI_TOKEN).pull(Catalog.ghibli(), PullListener.NONE);
        assertArrayEquals(LORA, Files.readAllBytes(dir.resolve("loras/ghibli.safetensors")));
        assertTrue(fake.cdnRequests.stream().allMatch(r -> r.authorization() == null), "the Civitai token never goes to the CDN");
        assertTrue(BundleStatus.of(Catalog.ghibli(), puller(null).paths()).ready());
    }

    @Test
    void withoutATokenCivitaiSaysToSetIt() {
        PullException e = assertThrows(PullException.class, () -> puller(null).pull(Catalog.ghibli(), PullListener.NONE));
        assertTrue(e.getMessage().contains("HTTP 401"), e.getMessage());
        assertTrue(e.getMessage().contains("set CIVITAI_TOKEN"), e.getMessage());
        assertFalse(Files.exists(dir.resolve("loras/ghibli.safetensors")));
    }

    @Test
    void anUnknownModelIsNamed() {
        PullException e = assertThrows(PullException.class, () -> new CivitaiClient(fake.endpoint(), null, HttpGet.create()).latest(42));
        assertTrue(e.getMessage().startsWith("Civitai model 42: not found"), e.getMessage());
    }

    @Test
    void lightx2vAtAChosenRankIsSavedUnderItsCatalogName() throws IOException {
        puller(null).pull(Catalog.lightx2v(64), PullListener.NONE);
        assertArrayEquals(FakeHub.bytes(3000, 12), Files.readAllBytes(dir.resolve("loras/lightx2v.safetensors")));
        assertThrows(IllegalArgumentException.class, () -> Catalog.lightx2v(16));
    }

    @Test
    void anyUrlWithAnExpectedSha256() throws IOException {
        String url = "http://" + fake.cdnAuthority() + "/blobs/" + FakeHub.sha256(LORA);
        Bundle good = Catalog.url(url, FakeHub.sha256(LORA), "my-style");
        assertEquals("my-style.safetensors", good.parts().getFirst().target());
        puller(null).pull(good, PullListener.NONE);
        assertArrayEquals(LORA, Files.readAllBytes(dir.resolve("loras/my-style.safetensors")));

        Bundle wrong = Catalog.url(url, "ab".repeat(32), "other");
        PullException e = assertThrows(PullException.class, () -> puller(null).pull(wrong, PullListener.NONE));
        assertInstanceOf(PullException.HashMismatch.class, e);
        assertFalse(Files.exists(dir.resolve("loras/other.safetensors")));

        Bundle unverified = Catalog.url(url, null, "plain");
        puller(null).pull(unverified, PullListener.NONE);
        assertEquals(FakeHub.sha256(LORA), Sidecar.read(dir.resolve("loras/plain.safetensors")).hash());
        assertThrows(IllegalArgumentException.class, () -> Catalog.url("ftp://x/y", null, null));
        assertThrows(IllegalArgumentException.class, () -> Catalog.url(url, "123", null));
    }
}
