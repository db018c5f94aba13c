package dev.kaze.api;

import dev.kaze.video.VideoInfo;
import dev.kaze.video.VideoProbe;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import tools.jackson.databind.JsonNode;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Through the real server on a random port with the preview model: POST → WebSocket events
 * (every step, in order, numbered) → completed → GET content → ffprobe; Range requests.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "spring.datasource.url=jdbc:h2:mem:e2e;DB_CLOSE_DELAY=-1",
        "kaze.data-dir=target/test-data/e2e",
        "kaze.auth.anonymous=false",
        "kaze.auth.keys[0].id=alice", "kaze.auth.keys[0].key=alice-key",
        "kaze.auth.keys[1].id=bob", "kaze.auth.keys[1].sha256=81b637d8fcd2c6da6359e6963113a1170de795e4b725b84d1e0b4cfd9ec58ce9",
        "kaze.limits.per-key-queued=4",
        "kaze.webhooks.secret=" + VideoApiEndToEndTest.SECRET
})
class VideoApiEndToEndTest {
    @LocalServerPort int port;

    ApiClient alice() { return new ApiClient(port, "alice-key"); }
    ApiClient bob() { return new ApiClient(port, "bob"); }   // sha256("bob") is configured above

    static final String SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    static final String SMALL = "{\"prompt\":\"a cat in the rain\",\"size\":\"64x48\",\"frames\":9,\"steps\":3,\"seed\":5}";

    @Test
    void postThenWebSocketEventsThenDownloadAndProbe() throws Exception {
        HttpResponse<String> created = alice().post("/v1/videos", SMALL);
        assertThat(created.statusCode()).as(created.body()).isEqualTo(202);
        JsonNode v = ApiClient.json(created);
        String id = v.get("id").asString();
        assertThat(v.get("object").asString()).isEqualTo("video");
        assertThat(v.get("status").asString()).isIn("queued", "in_progress");
        assertThat(v.at("/request/prompt").asString()).isEqualTo("Studio Ghibli style. a cat in the rain");
        assertThat(created.headers().firstValue("Location")).hasValue("/v1/videos/" + id);

        ApiClient.Frames ws = alice().websocket("/v1/videos/" + id + "/events", Duration.ofSeconds(120));
        List<JsonNode> events = ws.messages();
        assertThat(ws.closeCode()).isEqualTo(1000);
        for (int i = 0; i < events.size(); i++) assertThat(events.get(i).get("seq").asLong()).isEqualTo(i + 1);
        List<String> types = events.stream().map(e -> e.get("type").asString()).toList();
        assertThat(types.getFirst()).isEqualTo("queued");
        assertThat(types.get(1)).isEqualTo("started");
        assertThat(types.getLast()).isEqualTo("completed");
        List<Integer> steps = events.stream().filter(e -> e.at("/data/stage").asString().equals("denoise") && e.at("/data/step").asInt() > 0)
                .map(e -> e.at("/data/step").asInt()).toList();
        assertThat(steps).containsExactly(1, 2, 3);
        int last = -1;
        for (JsonNode e : events) if (e.has("data") && e.get("data").has("progress")) {
            assertThat(e.at("/data/progress").asInt()).isGreaterThanOrEqualTo(last);
            last = e.at("/data/progress").asInt();
        }

        JsonNode done = ApiClient.json(alice().get("/v1/videos/" + id));
        assertThat(done.get("status").asString()).isEqualTo("completed");
        assertThat(done.get("progress").asInt()).isEqualTo(100);
        assertThat(done.get("completed_at").isNumber()).isTrue();

        HttpResponse<byte[]> mp4 = alice().sendBytes(alice().request("/v1/videos/" + id + "/content").GET().build());
        assertThat(mp4.statusCode()).isEqualTo(200);
        assertThat(mp4.headers().firstValue("Content-Type")).hasValue("video/mp4");
        assertThat(mp4.headers().firstValue("Accept-Ranges")).hasValue("bytes");
        assertThat(mp4.headers().firstValue("ETag")).isPresent();
        assertThat(mp4.body()).as("the file in the data directory, where it always was")
                .isEqualTo(Files.readAllBytes(Path.of("target/test-data/e2e/jobs", id, "video.mp4")));
        Path file = Files.createTempFile("kaze-e2e", ".mp4");
        Files.write(file, mp4.body());
        VideoInfo info = VideoProbe.probe(file);
        assertThat(info.codec()).isEqualTo("h264");
        assertThat(info.pixFmt()).isEqualTo("yuv420p");
        assertThat(info.width()).isEqualTo(64);
        assertThat(info.height()).isEqualTo(48);
        assertThat(info.fps().num()).isEqualTo(16);
        assertThat(info.fps().den()).isEqualTo(1);
        assertThat(info.frameCount()).isEqualTo(9);

        HttpResponse<byte[]> range = alice().sendBytes(alice().request("/v1/videos/" + id + "/content").header("Range", "bytes=10-99").GET().build());
        assertThat(range.statusCode()).isEqualTo(206);
        assertThat(range.headers().firstValue("Content-Range")).hasValue("bytes 10-99/" + mp4.body().length);
        assertThat(range.body()).isEqualTo(Arrays.copyOfRange(mp4.body(), 10, 100));

        HttpResponse<String> notModified = alice().send(alice().request("/v1/videos/" + id + "/content")
                .header("If-None-Match", mp4.headers().firstValue("ETag").orElseThrow()).GET().build());
        assertThat(notModified.statusCode()).isEqualTo(304);

        HttpResponse<byte[]> thumb = alice().sendBytes(alice().request("/v1/videos/" + id + "/content?variant=thumbnail").GET().build());
        assertThat(thumb.statusCode()).isEqualTo(200);
        assertThat(thumb.headers().firstValue("Content-Type")).hasValue("image/jpeg");
        assertThat(Files.readString(Path.of("target/test-data/e2e/jobs", id, "request.json"))).contains("\"seed\" : 5").contains("software_version");
    }

    @Test
    void aKeyCannotReadOrSubscribeToAnotherKeysJob() throws Exception {
        String id = ApiClient.json(alice().post("/v1/videos", SMALL)).get("id").asString();
        assertThat(bob().get("/v1/videos/" + id).statusCode()).isEqualTo(404);
        assertThat(bob().send(bob().request("/v1/videos/" + id + "/events").header("Accept", "text/event-stream").GET().build()).statusCode()).isEqualTo(404);
        assertThat(bob().websocket("/v1/videos/" + id + "/events", Duration.ofSeconds(10)).closeCode()).isEqualTo(4404);
        assertThat(bob().post("/v1/videos/" + id + "/cancel", "").statusCode()).isEqualTo(404);
        assertThat(ApiClient.json(bob().get("/v1/videos")).get("data").findValuesAsString("id")).doesNotContain(id);
        assertThat(new ApiClient(port, null).get("/v1/videos/" + id).statusCode()).isEqualTo(401);
        assertThat(new ApiClient(port, "wrong").get("/v1/videos/" + id).statusCode()).isEqualTo(401);
        alice().awaitTerminal(id, Duration.ofSeconds(60));
    }

    @Test
    void sseResumesAfterLastEventId() throws Exception {
        String id = ApiClient.json(alice().post("/v1/videos", SMALL)).get("id").asString();
        alice().awaitTerminal(id, Duration.ofSeconds(60));
        String all = alice().send(alice().request("/v1/videos/" + id + "/events").header("Accept", "text/event-stream").GET().build()).body();
        String resumed = alice().send(alice().request("/v1/videos/" + id + "/events").header("Accept", "text/event-stream")
                .header("Last-Event-ID", "3").GET().build()).body();
        List<String> allIds = all.lines().filter(l -> l.startsWith("id:")).map(l -> l.substring(3).strip()).toList();
        List<String> resumedIds = resumed.lines().filter(l -> l.startsWith("id:")).map(l -> l.substring(3).strip()).toList();
        assertThat(allIds.getFirst()).isEqualTo("1");
        assertThat(resumedIds.getFirst()).isEqualTo("4");
        assertThat(resumedIds).isEqualTo(allIds.subList(3, allIds.size()));
        assertThat(resumed).contains("event:completed");
    }

    @Test
    void idempotencyKeyReturnsTheSameJobAndRefusesAnotherBody() {
        HttpRequest.Builder first = alice().request("/v1/videos").header("Content-Type", "application/json").header("Idempotency-Key", "k-123");
        HttpResponse<String> a = alice().send(first.POST(HttpRequest.BodyPublishers.ofString(SMALL)).build());
        HttpResponse<String> b = alice().send(alice().request("/v1/videos").header("Content-Type", "application/json").header("Idempotency-Key", "k-123")
                .POST(HttpRequest.BodyPublishers.ofString(SMALL)).build());
        assertThat(ApiClient.json(a).get("id")).isEqualTo(ApiClient.json(b).get("id"));
        HttpResponse<String> c = alice().send(alice().request("/v1/videos").header("Content-Type", "application/json").header("Idempotency-Key", "k-123")
                .POST(HttpRequest.BodyPublishers.ofString(SMALL.replace("a cat", "a dog"))).build());
        assertThat(c.statusCode()).isEqualTo(409);
        assertThat(c.headers().firstValue("Content-Type").orElse("")).startsWith("application/problem+json");
        assertThat(ApiClient.json(c).get("type").asString()).endsWith("/idempotency-conflict");
    }

    @Test
    void cancelStopsARunningJobWithinAStepAndIsIdempotent() throws Exception {
        String slow = "{\"prompt\":\"a long river\",\"size\":\"256x256\",\"frames\":33,\"steps\":100,\"seed\":1}";
        String id = ApiClient.json(alice().post("/v1/videos", slow)).get("id").asString();
        long end = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!ApiClient.json(alice().get("/v1/videos/" + id)).get("status").asString().equals("in_progress") && System.nanoTime() < end) Thread.sleep(20);
        HttpResponse<String> c1 = alice().post("/v1/videos/" + id + "/cancel", "");
        assertThat(c1.statusCode()).isEqualTo(200);
        JsonNode done = alice().awaitTerminal(id, Duration.ofSeconds(60));
        assertThat(done.get("status").asString()).isEqualTo("cancelled");
        assertThat(done.get("step").asInt()).isLessThan(100);
        assertThat(ApiClient.json(alice().post("/v1/videos/" + id + "/cancel", "")).get("status").asString()).isEqualTo("cancelled");
        assertThat(alice().get("/v1/videos/" + id + "/content").statusCode()).isEqualTo(409);
        assertThat(alice().send(alice().request("/v1/videos/" + id).DELETE().build()).statusCode()).isEqualTo(200);
        assertThat(alice().get("/v1/videos/" + id).statusCode()).isEqualTo(404);
    }

    @Test
    void aFullQueueAnswers429WithRetryAfter() throws Exception {
        String slow = "{\"prompt\":\"waiting\",\"size\":\"256x256\",\"frames\":33,\"steps\":100,\"seed\":2}";
        List<String> ids = new java.util.ArrayList<>();
        HttpResponse<String> r;
        int guard = 0;
        while ((r = bob().post("/v1/videos", slow)).statusCode() == 202 && guard++ < 10) ids.add(ApiClient.json(r).get("id").asString());
        assertThat(ids).hasSize(4);
        assertThat(r.statusCode()).isEqualTo(429);
        assertThat(r.headers().firstValue("Retry-After")).isPresent();
        assertThat(ApiClient.json(r).get("type").asString()).endsWith("/queue-full");
        for (String id : ids) bob().post("/v1/videos/" + id + "/cancel", "");
        for (String id : ids) assertThat(bob().awaitTerminal(id, Duration.ofSeconds(60)).get("status").asString()).isEqualTo("cancelled");
    }

    @Test
    void webhooksAreSignedAndDeliveredForTheChosenEvents() throws Exception {
        try (WebhookReceiver hooks = new WebhookReceiver(SECRET)) {
            String url = hooks.url();
            String body = SMALL.replace("}", ",\"webhook\":{\"url\":\"" + url + "\",\"events\":[\"started\",\"completed\"]},\"metadata\":{\"order\":42}}");
            String id = ApiClient.json(alice().post("/v1/videos", body)).get("id").asString();
            alice().awaitTerminal(id, Duration.ofSeconds(60));
            WebhookReceiver.Delivery first = hooks.poll(30), second = hooks.poll(30);
            assertThat(first).isNotNull();
            assertThat(second).isNotNull();
            JsonNode started = ApiClient.JSON.readTree(first.body()), completed = ApiClient.JSON.readTree(second.body());
            assertThat(started.get("type").asString()).isEqualTo("video.started");
            assertThat(completed.get("type").asString()).isEqualTo("video.completed");
            assertThat(completed.at("/data/id").asString()).isEqualTo(id);
            assertThat(completed.at("/data/metadata/order").asInt()).isEqualTo(42);
            assertThat(first.id()).isNotEqualTo(second.id());
            assertThat(hooks.poll(1)).as("no other event types were sent").isNull();
        }
    }

    @Test
    void badInputGetsProblemDetailsNamingTheField() {
        HttpResponse<String> r = alice().post("/v1/videos", "{\"prompt\":\"\",\"frames\":80,\"size\":\"650x480\",\"loras\":[{\"name\":\"../x\"}],\"steps\":\"many\"}");
        assertThat(r.statusCode()).isEqualTo(400);
        JsonNode p = ApiClient.json(r);
        assertThat(p.get("type").asString()).endsWith("/validation");
        assertThat(p.get("errors").findValuesAsString("field")).contains("prompt", "steps", "loras[0]");
        HttpResponse<String> lora = alice().post("/v1/videos", "{\"prompt\":\"x\",\"loras\":[{\"name\":\"ghibli\",\"strength\":1}]}");
        assertThat(lora.statusCode()).isEqualTo(400);
        assertThat(ApiClient.json(lora).get("errors").findValuesAsString("field")).contains("loras");
        assertThat(alice().post("/v1/videos", "{not json").statusCode()).isEqualTo(400);
        assertThat(alice().get("/v1/videos/nope").statusCode()).isEqualTo(404);
    }

    /** Every name on the wire is snake_case: the video object, every event type's data, a list page, problems. */
    @Test
    void everyNameOnTheWireIsSnakeCase() throws Exception {
        HttpResponse<String> created = alice().post("/v1/videos", SMALL.replace("}", ",\"metadata\":{\"callerKey\":1}}"));
        assertThat(created.statusCode()).as(created.body()).isEqualTo(202);
        WireNames.assertSnakeCase("a created video", ApiClient.json(created));
        String id = ApiClient.json(created).get("id").asString();
        ApiClient.Frames done = alice().websocket("/v1/videos/" + id + "/events", Duration.ofSeconds(120));
        assertThat(done.messages().stream().map(e -> e.get("type").asString())).contains("queued", "started", "progress", "completed");
        WireNames.assertSnakeCase("the events of a completed video", done.messages());
        WireNames.assertSnakeCase("a completed video", ApiClient.json(alice().get("/v1/videos/" + id)));
        WireNames.assertSnakeCase("a list page", ApiClient.json(alice().get("/v1/videos?limit=1")));

        String slow = "{\"prompt\":\"a slow river\",\"size\":\"256x256\",\"frames\":33,\"steps\":100,\"seed\":4}";
        String cancelled = ApiClient.json(alice().post("/v1/videos", slow)).get("id").asString();
        WireNames.assertSnakeCase("a cancelled video", ApiClient.json(alice().post("/v1/videos/" + cancelled + "/cancel", "")));
        ApiClient.Frames stopped = alice().websocket("/v1/videos/" + cancelled + "/events", Duration.ofSeconds(60));
        assertThat(stopped.messages().getLast().get("type").asString()).isEqualTo("cancelled");
        WireNames.assertSnakeCase("the events of a cancelled video", stopped.messages());
        WireNames.assertSnakeCase("a deleted video", ApiClient.json(alice().send(alice().request("/v1/videos/" + cancelled).DELETE().build())));

        WireNames.assertSnakeCase("a validation problem", ApiClient.json(alice().post("/v1/videos", "{\"prompt\":\"\",\"frames\":80}")));
        WireNames.assertSnakeCase("a not-found problem", ApiClient.json(alice().get("/v1/videos/video_nope")));
    }
}
