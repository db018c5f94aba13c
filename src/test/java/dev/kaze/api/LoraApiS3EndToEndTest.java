package dev.kaze.api;

import dev.kaze.pipeline.LoraCatalog;
import dev.kaze.storage.S3TestServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import tools.jackson.databind.JsonNode;

import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The LoRA catalog through the real server (preview model) with a bucket (s3proxy): an upload lands in the bucket's
 * {@code loras/}, is listed, renders on the worker from its copy in the data directory's cache and is deleted from the
 * bucket; a LoRA in the model's own LoRA directory is listed beside it, read only; another replica's catalog over the
 * same bucket sees the upload at once.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "spring.datasource.url=jdbc:h2:mem:loraapis3;DB_CLOSE_DELAY=-1",
        "kaze.limits.lora-upload-max=8MB",
        "kaze.auth.anonymous=false",
        "kaze.auth.keys[0].id=alice", "kaze.auth.keys[0].key=alice-key",
})
class LoraApiS3EndToEndTest {
    static final String PREFIX = "lora-api";
    static final S3TestServer SERVER;
    static final Path ROOT;
    static final byte[] LORA;

    static {
        try {
            SERVER = S3TestServer.start("kaze-lora-api");
            ROOT = Files.createTempDirectory("kaze-lora-s3");
            LORA = LoraApiEndToEndTest.previewLora();
            Files.createDirectories(ROOT.resolve("data/loras"));
            Files.write(ROOT.resolve("data/loras/pulled.safetensors"), LORA);   // as `models pull` leaves one
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    @DynamicPropertySource
    static void storage(DynamicPropertyRegistry r) {
        r.add("kaze.data-dir", () -> ROOT.resolve("data").toString());
        for (String p : SERVER.properties(PREFIX)) {
            int eq = p.indexOf('=');
            r.add(p.substring(0, eq), () -> p.substring(eq + 1));
        }
    }

    @AfterAll
    static void stopServer() throws Exception { SERVER.close(); }

    @LocalServerPort int port;

    ApiClient alice() { return new ApiClient(port, "alice-key"); }

    HttpResponse<String> upload(String query, String name, byte[] content) {
        return alice().postMultipart("/v1/loras" + query, Map.of("name", name), "file", "up.safetensors", "application/octet-stream", content);
    }

    static String sha256(byte[] b) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }

    static byte[] object(String key) { return SERVER.read(PREFIX + "/" + key); }

    String render(String json) throws Exception {
        HttpResponse<String> created = alice().post("/v1/videos", json);
        assertThat(created.statusCode()).as(created.body()).isEqualTo(202);
        String id = ApiClient.json(created).get("id").asString();
        JsonNode done = alice().awaitTerminal(id, Duration.ofSeconds(180));
        assertThat(done.get("status").asString()).as(done.toString()).isEqualTo("completed");
        return id;
    }

    @Test
    void anUploadLivesInTheBucketRendersFromItAndIsDeletedFromIt() throws Exception {
        HttpResponse<String> up = upload("", "shared", LORA);
        assertThat(up.statusCode()).as(up.body()).isEqualTo(201);
        assertThat(ApiClient.json(up).get("sha256").asString()).isEqualTo(sha256(LORA));
        assertThat(ApiClient.json(up).get("size_bytes").asLong()).isEqualTo(LORA.length);
        assertThat(object("loras/shared.safetensors")).isEqualTo(LORA);
        assertThat(Files.exists(ROOT.resolve("data/loras/shared.safetensors"))).as("not in the local directory").isFalse();
        assertThat(upload("", "shared", LORA).statusCode()).isEqualTo(409);
        assertThat(upload("", "pulled", LORA).statusCode()).as("a name in the model's LoRA directory is taken").isEqualTo(409);

        // another replica (its own data directory) over the same bucket sees it at once
        try (S3Client client = SERVER.client()) {
            LoraCatalog replica = LoraCatalog.shared(SERVER.settings(PREFIX).store(client).within("loras"), null, ROOT.resolve("replica/cache"));
            assertThat(replica.names()).containsExactly("shared");
            assertThat(Files.readAllBytes(replica.resolve("shared"))).isEqualTo(LORA);
        }

        JsonNode list = ApiClient.json(alice().get("/v1/loras"));
        assertThat(list.get("data").findValuesAsString("name")).containsExactly("pulled", "shared");
        for (JsonNode n : list.get("data")) {
            assertThat(n.get("sha256").asString()).isEqualTo(sha256(LORA));
            assertThat(n.get("size_bytes").asLong()).isEqualTo(LORA.length);
        }
        assertThat(ApiClient.json(alice().get("/v1/loras/shared")).get("name").asString()).isEqualTo("shared");

        render("{\"prompt\":\"a cat in the rain\",\"size\":\"64x48\",\"frames\":9,\"steps\":2,\"seed\":5,"
                + "\"loras\":[{\"name\":\"shared\",\"strength\":1},{\"name\":\"pulled\",\"strength\":0.5}]}");
        assertThat(Files.readAllBytes(ROOT.resolve("data/cache/loras/shared.safetensors")))
                .as("the worker loaded the bucket's LoRA from its copy").isEqualTo(LORA);
        assertThat(Files.exists(ROOT.resolve("data/cache/loras/pulled.safetensors"))).as("a local LoRA is used in place").isFalse();

        HttpResponse<String> readOnly = alice().send(alice().request("/v1/loras/pulled").DELETE().build());
        assertThat(readOnly.statusCode()).as(readOnly.body()).isEqualTo(409);
        assertThat(readOnly.body()).contains("lora-read-only").contains("remove the file there");
        assertThat(Files.exists(ROOT.resolve("data/loras/pulled.safetensors"))).isTrue();

        assertThat(alice().send(alice().request("/v1/loras/shared").DELETE().build()).statusCode()).isEqualTo(200);
        assertThatThrownBy(() -> object("loras/shared.safetensors")).isInstanceOf(NoSuchKeyException.class);
        assertThat(alice().send(alice().request("/v1/loras/shared").DELETE().build()).statusCode()).isEqualTo(404);
        assertThat(ApiClient.json(alice().get("/v1/loras")).get("data").findValuesAsString("name")).containsExactly("pulled");
        HttpResponse<String> gone = alice().post("/v1/videos", "{\"prompt\":\"a cat\",\"size\":\"64x48\",\"frames\":9,\"steps\":2,"
                + "\"loras\":[{\"name\":\"shared\",\"strength\":1}]}");
        assertThat(gone.statusCode()).as(gone.body()).isEqualTo(400);
        assertThat(gone.body()).contains("no LoRA named 'shared'");
    }

    @Test
    void anUploadThatIsNoLoraLeavesNothingInTheBucket() throws Exception {
        HttpResponse<String> r = upload("", "noise", "not a safetensors file".getBytes(StandardCharsets.UTF_8));
        assertThat(r.statusCode()).as(r.body()).isEqualTo(400);
        assertThat(SERVER.keys(PREFIX + "/loras/noise")).isEmpty();
        try (var s = Files.list(ROOT.resolve("data/cache/loras"))) {
            assertThat(s.filter(p -> p.getFileName().toString().endsWith(".tmp")).toList()).as("no staged upload left").isEmpty();
        } catch (NoSuchFileException e) {
            // no staging directory yet: nothing left either
        }
    }
}
