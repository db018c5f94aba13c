package dev.kaze.api;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.models.models.Model;
import dev.kaze.json.Json;
import dev.kaze.models.Catalog;
import dev.kaze.models.FakeHub;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.JsonNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The models API against the real server in the local quickstart's open mode, pulling from a local fake
 * hub: the served model's directory is empty at start, so readiness lists every part missing; a pull
 * through the API streams its progress over SSE, fills the directory and makes the worker load again
 * (readiness then finds every part present); the Ghibli LoRA pulled from the fake Civitai lands in the
 * served LoRA catalog. OpenAI's SDK, with any key, lists the models.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "spring.datasource.url=jdbc:h2:mem:models-api;DB_CLOSE_DELAY=-1",
        "kaze.auth.anonymous=true",
        "kaze.models.civitai-token=" + FakeHub.CIVITAI_TOKEN
})
class ModelsApiTest {
    static final Path ROOT;
    static final FakeHub HUB;
    static final byte[] DIT = FakeHub.bytes(300_000, 1);
    static final byte[] T5 = FakeHub.bytes(3000, 2);
    static final byte[] VAE = FakeHub.bytes(2000, 3);
    static final byte[] GHIBLI = FakeHub.bytes(4096, 9);

    static {
        try {
            ROOT = Files.createTempDirectory("kaze-models-api");
            HUB = new FakeHub();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        HUB.put(Catalog.WAN_1_3B, "config.json", "{\"dim\": 1536}".getBytes());
        HUB.put(Catalog.WAN_1_3B, "diffusion_pytorch_model.safetensors", DIT);
        HUB.put(Catalog.WAN_1_3B, "models_t5_umt5-xxl-enc-bf16.pth", T5);
        HUB.put(Catalog.WAN_1_3B, "Wan2.1_VAE.pth", VAE);
        HUB.put(Catalog.WAN_1_3B, "google/umt5-xxl/tokenizer.json", "{\"model\": {}}".getBytes());
        HUB.civitaiModel(Catalog.GHIBLI_CIVITAI_MODEL, 77, "ghibli_style.safetensors", GHIBLI);
    }

    @DynamicPropertySource
    static void paths(DynamicPropertyRegistry r) {
        r.add("kaze.data-dir", () -> ROOT.resolve("data").toString());
        r.add("kaze.models.root", () -> ROOT.resolve("models").toString());
        r.add("kaze.models.dir", () -> ROOT.resolve("models/wan2.1-t2v-1.3b").toString());
        r.add("kaze.models.hf-endpoint", () -> HUB.endpoint().toString());
        r.add("kaze.models.civitai-endpoint", () -> HUB.endpoint().toString());
    }

    @AfterAll
    static void stopHub() { HUB.close(); }

    @LocalServerPort int port;
    final HttpClient http = HttpClient.newHttpClient();

    record Answer(int status, JsonNode body, HttpResponse<String> raw) {}

    Answer send(String method, String path) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .method(method, HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
        return new Answer(r.statusCode(), r.body().isBlank() ? null : Json.MAPPER.readTree(r.body()), r);
    }

    record Event(String name, JsonNode data) {}

    /** Every event of a pull's SSE stream, read until the server ends it. */
    List<Event> events(String pullId) throws Exception {
        HttpResponse<Stream<String>> r = http.send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + port + "/v1/models/pulls/" + pullId + "/events")).timeout(Duration.ofSeconds(60)).build(),
                HttpResponse.BodyHandlers.ofLines());
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("Content-Type").orElse("")).startsWith("text/event-stream");
        List<Event> events = new ArrayList<>();
        String[] name = {null};
        r.body().forEach(line -> {
            if (line.startsWith("event:")) name[0] = line.substring(6).strip();
            else if (line.startsWith("data:")) events.add(new Event(name[0], Json.MAPPER.readTree(line.substring(5).strip())));
        });
        return events;
    }

    JsonNode readinessModel() throws Exception {
        return send("GET", "/actuator/health/readiness").body().path("components").path("model");
    }

    JsonNode awaitReadiness(String what, Predicate<JsonNode> condition) throws Exception {
        long end = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        JsonNode m = readinessModel();
        while (!condition.test(m)) {
            assertThat(System.nanoTime()).as("%s; readiness: %s", what, m).isLessThan(end);
            Thread.sleep(100);
            m = readinessModel();
        }
        return m;
    }

    static JsonNode entry(JsonNode list, String id) {
        for (JsonNode n : list.path("data")) if (n.path("id").asString().equals(id)) return n;
        throw new AssertionError("no " + id + " in " + list);
    }

    @Test
    void incompleteModelIsReportedThenPulledThroughTheApiAndReloaded() throws Exception {
        Path modelDir = ROOT.resolve("models/wan2.1-t2v-1.3b").toAbsolutePath().normalize();

        // readiness names every part of the served directory, all missing, and the recipe's LoRAs
        JsonNode before = awaitReadiness("the first load attempt", m -> m.path("details").path("state").asString("").equals("incomplete"));
        assertThat(before.path("status").asString()).isEqualTo("DOWN");
        assertThat(before.path("details").path("model").asString()).isEqualTo("wan2.1-t2v-1.3b");
        assertThat(before.path("details").path("model_dir").asString()).isEqualTo(modelDir.toString());
        for (String part : List.of("dit", "dit_config", "text_encoder", "tokenizer", "vae"))
            assertThat(before.path("details").path("parts").path(part).asString()).as(part).isEqualTo("missing");
        assertThat(before.path("details").path("missing").toString()).contains("does not exist");
        assertThat(before.path("details").path("loras").path("ghibli").asString()).isEqualTo("missing");
        assertThat(before.path("details").path("loras").path("lightx2v").asString()).isEqualTo("missing");

        // the listing: every bundle with its parts, the served one active and incomplete
        Answer list = send("GET", "/v1/models");
        assertThat(list.status()).isEqualTo(200);
        WireNames.assertSnakeCase("GET /v1/models", list.body());
        assertThat(list.body().path("object").asString()).isEqualTo("list");
        assertThat(list.body().path("data")).hasSize(Catalog.bundles().size());
        JsonNode wan = entry(list.body(), "wan2.1-t2v-1.3b");
        assertThat(wan.path("object").asString()).isEqualTo("model");
        assertThat(wan.path("kind").asString()).isEqualTo("model");
        assertThat(wan.path("active").asBoolean()).isTrue();
        assertThat(wan.path("ready").asBoolean()).isFalse();
        assertThat(wan.path("directory").asString()).isEqualTo(modelDir.toString());
        assertThat(wan.path("missing").toString()).contains("config.json", "diffusion_pytorch_model.safetensors", "Wan2.1_VAE.pth",
                "models_t5_umt5-xxl-enc-bf16.pth", "google/umt5-xxl/tokenizer.json");
        assertThat(wan.path("parts")).allSatisfy(p -> assertThat(p.path("state").asString()).isEqualTo("missing"));
        assertThat(entry(list.body(), "wan2.1-t2v-14b").path("active").asBoolean()).isFalse();
        JsonNode ghibli = entry(list.body(), "ghibli");
        assertThat(ghibli.path("kind").asString()).isEqualTo("lora");
        assertThat(ghibli.path("recipe").asBoolean()).isTrue();
        assertThat(ghibli.path("ready").asBoolean()).isFalse();
        assertThat(ghibli.path("directory").asString()).isEqualTo(modelDir.resolve("loras").toString());
        JsonNode active = list.body().path("active_model");
        assertThat(active.path("id").asString()).isEqualTo("wan2.1-t2v-1.3b");
        assertThat(active.path("preview").asBoolean()).isFalse();
        assertThat(active.path("ready").asBoolean()).isFalse();
        assertThat(active.path("load_error").asString()).contains("does not exist");

        // one pull per bundle: the second request answers the running pull
        HUB.chunkDelayMillis = 30;
        Answer started = send("POST", "/v1/models/wan2.1-t2v-1.3b/pull");
        Answer again = send("POST", "/v1/models/wan2.1-t2v-1.3b/pull");
        assertThat(started.status()).isEqualTo(202);
        WireNames.assertSnakeCase("the pull", started.body());
        String id = started.body().path("id").asString();
        assertThat(started.raw().headers().firstValue("Location")).hasValue("/v1/models/pulls/" + id);
        assertThat(started.body().path("object").asString()).isEqualTo("model.pull");
        assertThat(started.body().path("bundle").asString()).isEqualTo("wan2.1-t2v-1.3b");
        assertThat(started.body().path("status").asString()).isEqualTo("running");
        assertThat(started.body().path("events_url").asString()).isEqualTo("/v1/models/pulls/" + id + "/events");
        assertThat(again.status()).isEqualTo(200);
        assertThat(again.body().path("id").asString()).isEqualTo(id);

        // its progress over SSE, ending with done
        List<Event> events = events(id);
        HUB.chunkDelayMillis = 0;
        WireNames.assertSnakeCase("pull events", events.stream().map(Event::data).toList());
        assertThat(events.getFirst().name()).isEqualTo("file_started");
        assertThat(events.getLast().name()).isEqualTo("done");
        assertThat(events.stream().map(Event::name).distinct().toList())
                .containsExactlyInAnyOrder("file_started", "file_progress", "file_verified", "file_done", "done");
        assertThat(events).allSatisfy(e -> {
            assertThat(e.data().path("pull_id").asString()).isEqualTo(id);
            assertThat(e.data().path("type").asString()).isEqualTo(e.name());
        });
        Event ditVerified = events.stream().filter(e -> e.name().equals("file_verified")
                && e.data().path("file").asString().endsWith("diffusion_pytorch_model.safetensors")).findFirst().orElseThrow();
        assertThat(ditVerified.data().path("algorithm").asString()).isEqualTo("sha256");
        assertThat(ditVerified.data().path("hash").asString()).isEqualTo(FakeHub.sha256(DIT));
        JsonNode done = events.getLast().data();
        assertThat(done.path("files").asInt()).isEqualTo(5);
        assertThat(done.path("directory").asString()).isEqualTo(modelDir.toString());
        assertThat(Files.readAllBytes(modelDir.resolve("diffusion_pytorch_model.safetensors"))).isEqualTo(DIT);
        assertThat(send("GET", "/v1/models/pulls/" + id).body().path("status").asString()).isEqualTo("succeeded");
        // a finished pull replays its events to a late subscriber
        assertThat(events(id).stream().map(Event::name).toList()).endsWith("done").contains("file_done");

        // the worker loaded the completed directory again: no part is missing now (these files are no real weights,
        // so loading them fails with the loader's own error instead of the missing files)
        JsonNode after = awaitReadiness("a load attempt on the complete directory",
                m -> m.path("details").path("state").asString("").equals("failed"));
        for (String part : List.of("dit", "dit_config", "text_encoder", "tokenizer", "vae"))
            assertThat(after.path("details").path("parts").path(part).asString()).as(part).isEqualTo("present");
        assertThat(after.path("details").has("missing")).isFalse();
        assertThat(after.path("details").path("error").asString()).doesNotContain("incomplete").doesNotContain("does not exist");

        JsonNode listed = entry(send("GET", "/v1/models").body(), "wan2.1-t2v-1.3b");
        assertThat(listed.path("ready").asBoolean()).isTrue();
        assertThat(listed.path("missing")).isEmpty();
        assertThat(listed.path("size_bytes").asLong()).isGreaterThanOrEqualTo(DIT.length + T5.length + VAE.length);
        JsonNode vae = null;
        for (JsonNode p : listed.path("parts")) if (p.path("file").asString().equals("Wan2.1_VAE.pth")) vae = p;
        assertThat(vae).isNotNull();
        assertThat(vae.path("state").asString()).isEqualTo("verified");
        assertThat(vae.path("sha256").asString()).isEqualTo(FakeHub.sha256(VAE));
        assertThat(vae.path("size_bytes").asLong()).isEqualTo(VAE.length);

        // the Ghibli LoRA from (the fake) Civitai lands in the served LoRA catalog
        Answer lora = send("POST", "/v1/models/ghibli/pull");
        assertThat(lora.status()).isEqualTo(202);
        assertThat(events(lora.body().path("id").asString()).getLast().name()).isEqualTo("done");
        assertThat(Files.readAllBytes(modelDir.resolve("loras/ghibli.safetensors"))).isEqualTo(GHIBLI);
        assertThat(entry(send("GET", "/v1/models").body(), "ghibli").path("ready").asBoolean()).isTrue();
        assertThat(readinessModel().path("details").path("loras").path("ghibli").asString()).isEqualTo("present");
    }

    @Test
    void unknownBundlesAndPullsAreNotFound() throws Exception {
        Answer bundle = send("POST", "/v1/models/stable-diffusion/pull");
        assertThat(bundle.status()).isEqualTo(404);
        assertThat(bundle.body().path("detail").asString()).contains("no bundle named 'stable-diffusion'", "wan2.1-t2v-14b", "ghibli");
        Answer pull = send("GET", "/v1/models/pulls/pull_nope");
        assertThat(pull.status()).isEqualTo(404);
        assertThat(send("GET", "/v1/models/pulls/pull_nope/events").status()).isEqualTo(404);
    }

    /** The local quickstart lets OpenAI's SDK in with whatever key it was given. */
    @Test
    void openAiSdkWithAnyKeyListsTheModels() {
        OpenAIClient client = OpenAIOkHttpClient.builder().baseUrl("http://127.0.0.1:" + port + "/v1")
                .apiKey("sk-not-a-kaze-key").maxRetries(0).timeout(Duration.ofSeconds(30)).build();
        try {
            List<String> ids = client.models().list().data().stream().map(Model::id).toList();
            assertThat(ids).contains("wan2.1-t2v-14b", "wan2.1-t2v-1.3b", "ghibli", "lightx2v");
            assertThat(client.models().list().data()).allSatisfy(m -> assertThat(m.ownedBy()).isEqualTo("kaze"));
            assertThat(client.videos().list().data()).isNotNull();
        } finally {
            client.close();
        }
    }
}
