package dev.kaze.api;

import dev.kaze.pipeline.PreviewModel;
import dev.kaze.training.LoraNetwork;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import tools.jackson.databind.JsonNode;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Random;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The LoRA catalog through the real server (preview model): upload a LoRA trained-format file
 * for the preview DiT, list it, render with it (different frames than without), delete it;
 * uploads that are no LoRA for this model or have path-like names are refused with 400.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "spring.datasource.url=jdbc:h2:mem:loraapi;DB_CLOSE_DELAY=-1",
        "kaze.data-dir=" + LoraApiEndToEndTest.DATA,
        "kaze.models.loras=" + LoraApiEndToEndTest.DATA + "/loras",
        "kaze.limits.lora-upload-max=8MB",
        "kaze.auth.anonymous=false",
        "kaze.auth.keys[0].id=alice", "kaze.auth.keys[0].key=alice-key",
        "kaze.auth.keys[1].id=bob", "kaze.auth.keys[1].key=bob-key",
})
class LoraApiEndToEndTest {
    static final String DATA = "target/test-data/lora-api";
    static final Path LORAS = Path.of(DATA, "loras");

    @LocalServerPort int port;

    ApiClient alice() { return new ApiClient(port, "alice-key"); }
    ApiClient bob() { return new ApiClient(port, "bob-key"); }

    static byte[] previewLora;

    @BeforeAll
    static void setUp() throws Exception {
        if (Files.exists(LORAS)) try (Stream<Path> s = Files.list(LORAS)) {
            for (Path p : s.toList()) Files.delete(p);
        }
        previewLora = previewLora();
    }

    /** A LoRA in the trainer's format for the preview DiT, with non-zero up weights so that it changes frames. */
    static byte[] previewLora() throws IOException {
        Path file = Files.createTempFile("preview-lora", ".safetensors");
        try (PointerScope scope = new PointerScope();
             LoraNetwork net = LoraNetwork.create(PreviewModel.DIT, 4, 4, 11, new Device(torch.DeviceType.CPU))) {
            try (NoGradGuard g = new NoGradGuard()) {
                for (LoraNetwork.Module m : net.modules()) m.up().uniform_(-0.5, 0.5, new GeneratorOptional());
            }
            net.save(file);
        }
        byte[] bytes = Files.readAllBytes(file);
        Files.delete(file);
        return bytes;
    }

    HttpResponse<String> upload(ApiClient client, String query, String name, String filename, byte[] content) {
        String boundary = "kazeboundary" + System.nanoTime();
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        byte[] head = ("--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + filename
                + "\"\r\nContent-Type: application/octet-stream\r\n\r\n").getBytes(StandardCharsets.UTF_8);
        body.writeBytes(head);
        body.writeBytes(content);
        if (name != null)
            body.writeBytes(("\r\n--" + boundary + "\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n" + name).getBytes(StandardCharsets.UTF_8));
        body.writeBytes(("\r\n--" + boundary + "--\r\n").getBytes(StandardCharsets.UTF_8));
        return client.send(client.request("/v1/loras" + query).header("Content-Type", "multipart/form-data; boundary=" + boundary)
                .POST(HttpRequest.BodyPublishers.ofByteArray(body.toByteArray())).build());
    }

    HttpResponse<String> delete(ApiClient client, String name) {
        return client.send(client.request("/v1/loras/" + name).DELETE().build());
    }

    static String sha256(byte[] b) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }

    String framesSha(String id) throws Exception {
        JsonNode manifest = ApiClient.JSON.readTree(Files.readString(Path.of(DATA, "jobs", id, "request.json")));
        JsonNode sha = manifest.findValue("frames_sha256");
        assertThat(sha).as("frames_sha256 in the manifest of " + id).isNotNull();
        return sha.asString();
    }

    String render(String json) throws Exception {
        HttpResponse<String> created = alice().post("/v1/videos", json);
        assertThat(created.statusCode()).as(created.body()).isEqualTo(202);
        String id = ApiClient.json(created).get("id").asString();
        assertThat(alice().awaitTerminal(id, Duration.ofSeconds(180)).get("status").asString()).isEqualTo("completed");
        return id;
    }

    @Test
    void uploadListRenderWithItAndDelete() throws Exception {
        HttpResponse<String> up = upload(alice(), "", "x", "my-lora.safetensors", previewLora);
        assertThat(up.statusCode()).as(up.body()).isEqualTo(201);
        JsonNode item = ApiClient.json(up);
        WireNames.assertSnakeCase("an uploaded LoRA", item);
        assertThat(item.get("name").asString()).isEqualTo("x");
        assertThat(item.get("size_bytes").asLong()).isEqualTo(previewLora.length);
        assertThat(item.get("sha256").asString()).isEqualTo(sha256(previewLora));
        assertThat(item.get("targets").asInt()).isEqualTo(PreviewModel.DIT.numLayers() * LoraNetwork.BLOCK_LINEARS.size());
        assertThat(up.headers().firstValue("Location")).hasValue("/v1/loras/x");
        assertThat(Files.readAllBytes(LORAS.resolve("x.safetensors"))).isEqualTo(previewLora);

        HttpResponse<String> again = upload(bob(), "", "x", "other.safetensors", previewLora);
        assertThat(again.statusCode()).as(again.body()).isEqualTo(409);
        assertThat(upload(bob(), "?replace=true", "x", "other.safetensors", previewLora).statusCode()).isEqualTo(201);

        JsonNode list = ApiClient.json(bob().get("/v1/loras"));   // the catalog is shared by every key
        assertThat(list.get("object").asString()).isEqualTo("list");
        JsonNode listed = null;
        for (JsonNode n : list.get("data")) if (n.get("name").asString().equals("x")) listed = n;
        assertThat(listed).as(list.toString()).isNotNull();
        assertThat(listed.get("sha256").asString()).isEqualTo(sha256(previewLora));
        assertThat(listed.get("size_bytes").asLong()).isEqualTo(previewLora.length);
        assertThat(listed.get("default").asBoolean()).isFalse();
        try (Stream<Path> s = Files.list(LORAS)) {
            assertThat(s.map(p -> p.getFileName().toString()).toList()).containsExactly("x.safetensors");   // no temporaries left
        }

        String plain = "{\"prompt\":\"a cat in the rain\",\"size\":\"64x48\",\"frames\":9,\"steps\":3,\"seed\":5}";
        String withLora = "{\"prompt\":\"a cat in the rain\",\"size\":\"64x48\",\"frames\":9,\"steps\":3,\"seed\":5,"
                + "\"loras\":[{\"name\":\"x\",\"strength\":1}]}";
        String a = render(plain), b = render(withLora);
        assertThat(Files.readString(Path.of(DATA, "jobs", b, "request.json"))).contains("\"x\"");
        assertThat(framesSha(b)).isNotEqualTo(framesSha(a));
        assertThat(framesSha(render(plain))).isEqualTo(framesSha(a));   // the LoRA did not stay merged

        assertThat(delete(alice(), "x").statusCode()).isEqualTo(200);
        assertThat(delete(alice(), "x").statusCode()).isEqualTo(404);
        assertThat(Files.exists(LORAS.resolve("x.safetensors"))).isFalse();
        assertThat(ApiClient.json(alice().get("/v1/loras")).get("data").findValuesAsString("name")).doesNotContain("x");
        HttpResponse<String> gone = alice().post("/v1/videos", withLora);
        assertThat(gone.statusCode()).as(gone.body()).isEqualTo(400);
        assertThat(gone.body()).contains("no LoRA named 'x'");
    }

    @Test
    void uploadsThatAreNoLoraForThisModelAreRefusedWithTheirProblem() throws Exception {
        byte[] random = new byte[4096];
        new Random(3).nextBytes(random);
        HttpResponse<String> r = upload(alice(), "", "noise", "noise.safetensors", random);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(400);
        assertThat(ApiClient.json(r).get("type").asString()).endsWith("/invalid-lora");
        assertThat(r.body()).contains("noise.safetensors").contains("header").doesNotContain(".tmp");

        Path fixtures = Path.of(System.getProperty("kaze.parity.dir", "../shared/fixtures/wan-parity")).toAbsolutePath().normalize();
        byte[] other = Files.readAllBytes(fixtures.resolve("lora_musubi.safetensors"));   // for the parity fixture's DiT
        r = upload(alice(), "", "other", "other-model.safetensors", other);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(400);
        assertThat(r.body()).contains("other-model.safetensors").contains("does not fit the model").contains("lora_unet_blocks_");

        for (String name : new String[]{"../evil", "a/b", "..", "", "x y"}) {
            r = upload(alice(), "", name, "ok.safetensors", previewLora);
            assertThat(r.statusCode()).as(name + ": " + r.body()).isEqualTo(400);
        }
        r = upload(alice(), "", null, "ok.safetensors", previewLora);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(400);
        assertThat(r.body()).contains("name");
        assertThat(delete(alice(), "..%2Fevil").statusCode()).isIn(400, 404);
        assertThat(delete(alice(), "unknown").statusCode()).isEqualTo(404);

        byte[] big = new byte[9 << 20];
        assertThat(upload(alice(), "", "big", "big.safetensors", big).statusCode()).isEqualTo(413);
        assertThat(new ApiClient(port, null).get("/v1/loras").statusCode()).isEqualTo(401);
        assertThat(ApiClient.json(alice().get("/v1/loras")).get("data").findValuesAsString("name"))
                .doesNotContain("noise", "other", "evil", "big");
        assertThat(Files.exists(Path.of(DATA, "evil.safetensors"))).isFalse();
        try (Stream<Path> s = Files.list(LORAS)) {
            assertThat(s.filter(p -> p.getFileName().toString().endsWith(".tmp")).toList()).isEmpty();
        }
    }
}
