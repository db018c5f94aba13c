package dev.kaze.pipeline;

import dev.kaze.storage.DiskStore;
import dev.kaze.storage.FileStore;
import dev.kaze.storage.S3TestServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The LoRA catalog over one local directory (no bucket, as always) and over a bucket (a real S3 API, s3proxy) with
 * the model's LoRA directory beside it read only; two catalogs over one bucket stand for two replicas.
 */
class LoraCatalogTest {
    private static S3TestServer server;
    private static S3Client client;
    private static final AtomicInteger runs = new AtomicInteger();

    @TempDir Path tmp;

    @BeforeAll static void startServer() throws Exception {
        server = S3TestServer.start("kaze-lora-test");
        client = server.client();
    }

    @AfterAll static void stopServer() throws Exception {
        client.close();
        server.close();
    }

    /** A fresh prefix of the bucket; its LoRA area is {@code <prefix>/loras}. */
    private static String prefix() { return "lora-run-" + runs.incrementAndGet(); }

    private static FileStore bucket(String prefix) { return server.settings(prefix).store(client).within("loras"); }

    private Path file(String name, String content) throws Exception {
        Path f = tmp.resolve("in").resolve(name);
        Files.createDirectories(f.getParent());
        return Files.writeString(f, content);
    }

    private static String read(Path p) throws Exception { return Files.readString(p); }

    private static String objectText(String key) {
        return new String(server.read(key), StandardCharsets.UTF_8);
    }

    private static void putObject(String key, String content) {
        client.putObject(b -> b.bucket(server.bucket()).key(key), RequestBody.fromString(content));
    }

    @Test void aLocalDirectoryIsTheCatalogWithoutABucket() throws Exception {
        Path dir = tmp.resolve("loras");
        LoraCatalog c = new LoraCatalog(dir);
        assertThat(c.names()).isEmpty();
        assertThat(c.directory()).isEqualTo(dir.toAbsolutePath());
        assertThat(c.staging()).isEqualTo(dir.toAbsolutePath());

        assertThat(c.add(file("a", "one"), "style", false)).isTrue();
        assertThat(c.add(file("b", "two"), "style", false)).isFalse();   // taken, not replaced
        assertThat(read(dir.resolve("style.safetensors"))).isEqualTo("one");
        assertThat(c.resolve("style")).isEqualTo(dir.toAbsolutePath().resolve("style.safetensors"));   // the file itself, no copy
        assertThat(c.add(file("b", "two"), "style", true)).isTrue();
        assertThat(read(c.resolve("style"))).isEqualTo("two");

        Files.writeString(dir.resolve("copied-in.safetensors"), "three");   // a file put there by hand counts too
        Files.writeString(dir.resolve(".upload-1.tmp"), "partial");
        assertThat(c.names()).containsExactly("copied-in", "style");
        assertThat(c.has("copied-in")).isTrue();
        assertThat(c.has("missing")).isFalse();
        assertThat(c.stat("style")).get().satisfies(f -> assertThat(f.size()).isEqualTo(3));
        try (InputStream in = c.open("copied-in")) {
            assertThat(new String(in.readAllBytes(), StandardCharsets.UTF_8)).isEqualTo("three");
        }
        assertThatThrownBy(() -> c.resolve("missing")).hasMessageContaining("no LoRA named 'missing'")
                .hasMessageContaining(dir.toAbsolutePath().resolve("missing.safetensors").toString());
        assertThatThrownBy(() -> c.check("missing")).hasMessageContaining("no LoRA named 'missing'");

        assertThat(c.delete("style")).isTrue();
        assertThat(c.delete("style")).isFalse();
        assertThat(Files.exists(dir.resolve("style.safetensors"))).isFalse();
        assertThat(c.names()).containsExactly("copied-in");

        LoraCatalog none = new LoraCatalog(null);
        assertThat(none.names()).isEmpty();
        assertThat(none.has("x")).isFalse();
        assertThat(none.staging()).isNull();
        assertThatThrownBy(() -> none.resolve("x")).hasMessageContaining("no LoRA directory");
        assertThatThrownBy(() -> none.add(file("c", "x"), "x", false)).hasMessageContaining("no LoRA directory");
    }

    @Test void namesNeverReachOutsideTheCatalog() throws Exception {
        Files.createDirectories(tmp.resolve("loras"));
        Files.writeString(tmp.resolve("evil.safetensors"), "outside");
        LoraCatalog disk = new LoraCatalog(tmp.resolve("loras"));
        LoraCatalog shared = LoraCatalog.shared(bucket(prefix()), tmp.resolve("loras"), tmp.resolve("cache"));
        for (LoraCatalog c : new LoraCatalog[]{disk, shared}) {
            for (String name : new String[]{"../evil", "a/b", "..", "", "x y", "/abs", "a\\b"}) {
                assertThatThrownBy(() -> c.resolve(name)).as(name).isInstanceOf(IllegalArgumentException.class);
                assertThatThrownBy(() -> c.add(file("n", "x"), name, true)).as(name).isInstanceOf(IllegalArgumentException.class);
                assertThat(c.has(name)).as(name).isFalse();
            }
            assertThatThrownBy(() -> c.resolve(null)).isInstanceOf(IllegalArgumentException.class);
            assertThat(c.names()).isEmpty();
        }
        assertThat(read(tmp.resolve("evil.safetensors"))).isEqualTo("outside");
    }

    @Test void withABucketLorasLiveThereAndAreCopiedOnceIntoTheCache() throws Exception {
        String prefix = prefix();
        Path cache = tmp.resolve("data/cache/loras");
        LoraCatalog c = LoraCatalog.shared(bucket(prefix), tmp.resolve("model/loras"), cache);
        assertThat(c.names()).isEmpty();
        assertThat(c.staging()).isEqualTo(cache.toAbsolutePath());

        assertThat(c.add(file("a", "first version"), "moving", false)).isTrue();
        assertThat(objectText(prefix + "/loras/moving.safetensors")).isEqualTo("first version");
        assertThat(c.add(file("b", "other"), "moving", false)).isFalse();
        assertThat(objectText(prefix + "/loras/moving.safetensors")).isEqualTo("first version");
        assertThat(c.has("moving")).isTrue();
        assertThat(Files.exists(cache.resolve("moving.safetensors"))).as("has() copies nothing").isFalse();
        c.check("moving");
        assertThat(Files.exists(cache.resolve("moving.safetensors"))).as("check() copies nothing").isFalse();

        Path copy = c.resolve("moving");
        assertThat(copy).isEqualTo(cache.toAbsolutePath().resolve("moving.safetensors"));
        assertThat(read(copy)).isEqualTo("first version");
        Object inode = Files.readAttributes(copy, BasicFileAttributes.class).fileKey();
        assertThat(c.resolve("moving")).isEqualTo(copy);
        assertThat(Files.readAttributes(copy, BasicFileAttributes.class).fileKey()).as("not downloaded again").isEqualTo(inode);
        try (var s = Files.list(cache)) {
            assertThat(s.map(p -> p.getFileName().toString()).toList()).containsExactly("moving.safetensors");   // no temporaries
        }

        // replaced in the bucket behind this catalog's back: a new size, then the same size a second later
        putObject(prefix + "/loras/moving.safetensors", "the second version");
        assertThat(read(c.resolve("moving"))).isEqualTo("the second version");
        Thread.sleep(1100);   // S3 keeps last-modified times to the second
        putObject(prefix + "/loras/moving.safetensors", "the 3rd. version!!");
        assertThat(read(c.resolve("moving"))).isEqualTo("the 3rd. version!!");
        assertThat(c.add(file("c", "replaced"), "moving", true)).isTrue();
        assertThat(read(c.resolve("moving"))).isEqualTo("replaced");
        assertThat(c.stat("moving")).get().satisfies(f -> assertThat(f.size()).isEqualTo(8));
        try (InputStream in = c.open("moving")) {
            assertThat(new String(in.readAllBytes(), StandardCharsets.UTF_8)).isEqualTo("replaced");
        }

        assertThat(c.delete("moving")).isTrue();
        assertThat(server.keys(prefix + "/")).isEmpty();
        assertThat(c.has("moving")).isFalse();
        assertThat(c.delete("moving")).isFalse();
        assertThatThrownBy(() -> c.resolve("moving")).hasMessageContaining("no LoRA named 'moving'").hasMessageContaining(server.bucket());
        assertThat(Files.exists(cache.resolve("moving.safetensors"))).as("the copy goes with it").isFalse();
    }

    @Test void theModelsOwnLoraDirectoryStaysUsableBesideTheBucketReadOnly() throws Exception {
        String prefix = prefix();
        Path local = tmp.resolve("models/wan/loras");
        Files.createDirectories(local);
        Files.writeString(local.resolve("lightx2v.safetensors"), "pulled distill");
        Files.writeString(local.resolve("ghibli.safetensors"), "pulled style");
        Files.writeString(local.resolve("notes.txt"), "not a LoRA");
        LoraCatalog c = LoraCatalog.shared(bucket(prefix), local, tmp.resolve("cache"));

        assertThat(c.names()).containsExactly("ghibli", "lightx2v");
        assertThat(c.resolve("lightx2v")).isEqualTo(local.toAbsolutePath().resolve("lightx2v.safetensors"));   // used in place
        assertThat(Recipe.defaultLoras(c)).extracting(GenerateRequest.LoraRef::name).containsExactly("ghibli", "lightx2v");
        assertThat(c.directory()).isEqualTo(local.toAbsolutePath());

        assertThat(c.add(file("a", "uploaded"), "zebra", false)).isTrue();
        assertThat(c.add(file("a", "uploaded"), "alpha", false)).isTrue();
        assertThat(c.add(file("b", "clash"), "ghibli", false)).as("a pulled name is taken").isFalse();
        assertThat(server.keys(prefix + "/loras/ghibli")).isEmpty();
        assertThat(c.names()).containsExactly("alpha", "ghibli", "lightx2v", "zebra");

        assertThat(c.add(file("b", "replaced style"), "ghibli", true)).isTrue();   // the bucket wins on a name in both
        assertThat(c.names()).containsExactly("alpha", "ghibli", "lightx2v", "zebra");
        assertThat(read(c.resolve("ghibli"))).isEqualTo("replaced style");
        assertThat(read(local.resolve("ghibli.safetensors"))).isEqualTo("pulled style");   // never written
        assertThat(c.delete("ghibli")).isTrue();
        assertThat(read(c.resolve("ghibli"))).isEqualTo("pulled style");   // the pulled one is back

        assertThatThrownBy(() -> c.delete("lightx2v")).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("lightx2v").hasMessageContaining(local.toAbsolutePath().toString());
        assertThat(Files.exists(local.resolve("lightx2v.safetensors"))).isTrue();

        LoraCatalog noLocal = c.withDirectory(null);
        assertThat(noLocal.names()).containsExactly("alpha", "zebra");
        assertThat(noLocal.has("lightx2v")).isFalse();
    }

    @Test void aLoraAddedThroughOneReplicaIsResolvableThroughAnotherAtOnce() throws Exception {
        String prefix = prefix();
        LoraCatalog api = LoraCatalog.shared(bucket(prefix), tmp.resolve("api/models/loras"), tmp.resolve("api/cache/loras"));
        LoraCatalog worker = LoraCatalog.shared(bucket(prefix), tmp.resolve("worker/models/loras"), tmp.resolve("worker/cache/loras"));
        assertThat(worker.has("trained")).isFalse();

        assertThat(api.add(file("t", "trained weights"), "trained", false)).isTrue();
        assertThat(worker.has("trained")).isTrue();
        assertThat(worker.names()).containsExactly("trained");
        Path copy = worker.resolve("trained");
        assertThat(copy).startsWith(tmp.resolve("worker/cache/loras"));
        assertThat(read(copy)).isEqualTo("trained weights");
        assertThat(worker.add(file("u", "again"), "trained", false)).as("taken by the other replica").isFalse();

        assertThat(api.add(file("t2", "trained again, longer"), "trained", true)).isTrue();
        assertThat(read(worker.resolve("trained"))).isEqualTo("trained again, longer");
        assertThat(api.delete("trained")).isTrue();
        assertThat(worker.has("trained")).isFalse();
        assertThatThrownBy(() -> worker.resolve("trained")).hasMessageContaining("no LoRA named 'trained'");
    }

    @Test void aSharedCatalogOverALocalStoreNeedsNoCopies() throws Exception {
        Path shared = tmp.resolve("shared/loras");
        LoraCatalog c = LoraCatalog.shared(new DiskStore(shared), tmp.resolve("model/loras"), tmp.resolve("cache"));
        assertThat(c.add(file("a", "x"), "one", false)).isTrue();
        assertThat(c.resolve("one")).isEqualTo(shared.toAbsolutePath().resolve("one.safetensors"));
        assertThat(Files.exists(tmp.resolve("cache"))).isFalse();
    }
}
