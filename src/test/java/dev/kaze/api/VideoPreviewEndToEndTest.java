package dev.kaze.api;

import dev.kaze.prompts.ChatServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.JsonNode;

import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Live previews and the prompt enhancer through the real server with the preview model: preview events over
 * WebSocket, SSE and a webhook, the preview image, {@code previews: false}, the rate limit (an hour here: only
 * the first and the last step get one); {@code POST /v1/prompts/enhance} and {@code enhance_prompt} against a
 * local chat-completions server.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "spring.datasource.url=jdbc:h2:mem:e2e-previews;DB_CLOSE_DELAY=-1",
        "kaze.data-dir=target/test-data/e2e-previews",
        "kaze.auth.anonymous=false",
        "kaze.auth.keys[0].id=alice", "kaze.auth.keys[0].key=alice-key",
        "kaze.previews.min-interval=1h",
        "kaze.prompt-enhancer.model=test-llm",
        "kaze.prompt-enhancer.api-key=sk-local",
        "kaze.prompt-enhancer.timeout=1s",
        "kaze.webhooks.secret=" + VideoPreviewEndToEndTest.SECRET
})
class VideoPreviewEndToEndTest {
    static final String SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    static final String BODY = "{\"prompt\":\"a cat in the rain\",\"size\":\"64x48\",\"frames\":9,\"steps\":4,\"seed\":5";
    static final ChatServer CHAT;

    static {
        try {
            CHAT = new ChatServer();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @DynamicPropertySource
    static void enhancer(DynamicPropertyRegistry registry) {
        registry.add("kaze.prompt-enhancer.base-url", CHAT::baseUrl);
    }

    @AfterAll static void stop() { CHAT.close(); }

    @LocalServerPort int port;

    ApiClient alice() { return new ApiClient(port, "alice-key"); }

    @Test
    void previewEventsReachWebSocketSseAndWebhookAndTheImageDecodes() throws Exception {
        try (WebhookReceiver hooks = new WebhookReceiver(SECRET)) {
            String body = BODY + ",\"webhook\":{\"url\":\"" + hooks.url() + "\",\"events\":[\"preview\"]}}";
            HttpResponse<String> created = alice().post("/v1/videos", body);
            assertThat(created.statusCode()).as(created.body()).isEqualTo(202);
            String id = ApiClient.json(created).get("id").asString();
            assertThat(ApiClient.json(created).at("/request/previews").asBoolean()).isTrue();

            ApiClient.Frames ws = alice().websocket("/v1/videos/" + id + "/events", Duration.ofSeconds(120));
            List<JsonNode> previews = ws.messages().stream().filter(e -> e.get("type").asString().equals("preview")).toList();
            assertThat(ws.messages().getLast().get("type").asString()).as("previews come before the terminal event").isEqualTo("completed");
            assertThat(previews).isNotEmpty().hasSizeLessThanOrEqualTo(2);
            for (JsonNode p : previews) {
                assertThat(p.at("/data/step").asInt()).as("an hour's interval: the first and the last step only").isIn(1, 4);
                assertThat(p.at("/data/total_steps").asInt()).isEqualTo(4);
                assertThat(p.at("/data/url").asString()).isEqualTo("/v1/videos/" + id + "/content?variant=preview");
                assertThat(p.at("/data/frames").asInt()).isEqualTo(3);          // (9 - 1) / 4 + 1 latent frames
                assertThat(p.at("/data/width").asInt()).isEqualTo(16);          // 64 / 8, twice
                assertThat(p.at("/data/height").asInt()).isEqualTo(12);
            }
            assertThat(previews.getLast().at("/data/step").asInt()).as("the last step always gets one").isEqualTo(4);

            String sse = alice().send(alice().request("/v1/videos/" + id + "/events").header("Accept", "text/event-stream").GET().build()).body();
            assertThat(sse.lines().filter(l -> l.equals("event:preview")).count()).isEqualTo(previews.size());

            List<JsonNode> delivered = new ArrayList<>();
            for (WebhookReceiver.Delivery d; delivered.size() < previews.size() && (d = hooks.poll(30)) != null; )
                delivered.add(ApiClient.JSON.readTree(d.body()));
            assertThat(delivered).hasSize(previews.size());
            assertThat(delivered).allSatisfy(d -> assertThat(d.get("type").asString()).isEqualTo("video.preview"));
            assertThat(delivered.getLast().at("/data/event_data/step").asInt()).isEqualTo(4);
            assertThat(delivered.getLast().at("/data/event_data/url").asString()).isEqualTo("/v1/videos/" + id + "/content?variant=preview");

            HttpResponse<byte[]> gif = alice().sendBytes(alice().request("/v1/videos/" + id + "/content?variant=preview").GET().build());
            assertThat(gif.statusCode()).isEqualTo(200);
            assertThat(gif.headers().firstValue("Content-Type")).hasValue("image/gif");
            ImageReader reader = ImageIO.getImageReadersByFormatName("gif").next();
            try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(gif.body()))) {
                reader.setInput(in);
                assertThat(reader.getNumImages(true)).isEqualTo(3);
                BufferedImage first = reader.read(0);
                assertThat(first.getWidth()).isEqualTo(16);
                assertThat(first.getHeight()).isEqualTo(12);
            } finally {
                reader.dispose();
            }
        }
    }

    @Test
    void previewsFalseMakesNone() throws Exception {
        HttpResponse<String> created = alice().post("/v1/videos", BODY + ",\"previews\":false}");
        assertThat(created.statusCode()).as(created.body()).isEqualTo(202);
        String id = ApiClient.json(created).get("id").asString();
        assertThat(ApiClient.json(created).at("/request/previews").asBoolean(true)).isFalse();
        assertThat(alice().awaitTerminal(id, Duration.ofSeconds(60)).get("status").asString()).isEqualTo("completed");
        String sse = alice().send(alice().request("/v1/videos/" + id + "/events").header("Accept", "text/event-stream").GET().build()).body();
        assertThat(sse).contains("event:completed").doesNotContain("event:preview");
        HttpResponse<String> none = alice().get("/v1/videos/" + id + "/content?variant=preview");
        assertThat(none.statusCode()).isEqualTo(404);
        assertThat(ApiClient.json(none).get("detail").asString()).contains("no preview yet");
        assertThat(alice().post("/v1/videos", BODY + ",\"previews\":\"sometimes\"}").body()).contains("previews").contains("true or false");
    }

    @Test
    void enhanceEndpointAnswersAndMapsFailuresToProblems() {
        HttpResponse<String> ok = alice().post("/v1/prompts/enhance", "{\"prompt\":\"a girl in a meadow\"}");
        assertThat(ok.statusCode()).as(ok.body()).isEqualTo(200);
        JsonNode e = ApiClient.json(ok);
        assertThat(e.get("object").asString()).isEqualTo("prompt.enhancement");
        assertThat(e.get("prompt").asString()).isEqualTo("a girl in a meadow");
        assertThat(e.get("enhanced_prompt").asString()).isEqualTo("Studio Ghibli style. " + ChatServer.EXPANSION);
        assertThat(e.get("model").asString()).isEqualTo("test-llm");
        assertThat(CHAT.received().getLast().authorization()).isEqualTo("Bearer sk-local");

        HttpResponse<String> failed = alice().post("/v1/prompts/enhance", "{\"prompt\":\"error\"}");
        assertThat(failed.statusCode()).isEqualTo(502);
        assertThat(ApiClient.json(failed).get("type").asString()).endsWith("prompt-enhancer-failed");
        assertThat(ApiClient.json(failed).get("detail").asString()).contains("model overloaded");
        HttpResponse<String> noTrigger = alice().post("/v1/prompts/enhance", "{\"prompt\":\"no style\"}");
        assertThat(noTrigger.statusCode()).isEqualTo(502);
        assertThat(ApiClient.json(noTrigger).get("detail").asString()).contains("trigger phrase");
        HttpResponse<String> slow = alice().post("/v1/prompts/enhance", "{\"prompt\":\"slow\"}");
        assertThat(slow.statusCode()).isEqualTo(504);
        assertThat(ApiClient.json(slow).get("type").asString()).endsWith("prompt-enhancer-timeout");
        HttpResponse<String> missing = alice().post("/v1/prompts/enhance", "{}");
        assertThat(missing.statusCode()).isEqualTo(400);
        assertThat(missing.body()).contains("prompt");
    }

    @Test
    void enhancePromptRendersTheEnhancedPromptAndKeepsTheOriginal() throws Exception {
        HttpResponse<String> created = alice().post("/v1/videos", BODY + ",\"enhance_prompt\":true}");
        assertThat(created.statusCode()).as(created.body()).isEqualTo(202);
        JsonNode v = ApiClient.json(created);
        assertThat(v.get("prompt").asString()).isEqualTo("a cat in the rain");
        assertThat(v.get("enhanced_prompt").asString()).isEqualTo("Studio Ghibli style. " + ChatServer.EXPANSION);
        assertThat(v.at("/prompt_enhancement/status").asString()).isEqualTo("enhanced");
        assertThat(v.at("/prompt_enhancement/model").asString()).isEqualTo("test-llm");
        assertThat(v.at("/request/prompt").asString()).as("what renders").isEqualTo("Studio Ghibli style. " + ChatServer.EXPANSION);
        assertThat(CHAT.received().getLast().body().at("/messages/1/content").asString()).isEqualTo("a cat in the rain");
        alice().awaitTerminal(v.get("id").asString(), Duration.ofSeconds(60));
    }

    @Test
    void aFailingEnhancerFallsBackToTheOriginalPromptAndTheJobSaysWhy() throws Exception {
        HttpResponse<String> created = alice().post("/v1/videos", BODY.replace("a cat in the rain", "error cat") + ",\"enhance_prompt\":true}");
        assertThat(created.statusCode()).as(created.body()).isEqualTo(202);
        JsonNode v = ApiClient.json(created);
        assertThat(v.at("/prompt_enhancement/status").asString()).isEqualTo("fallback");
        assertThat(v.at("/prompt_enhancement/reason").asString()).contains("model overloaded");
        assertThat(v.get("enhanced_prompt").isNull()).isTrue();
        assertThat(v.at("/request/prompt").asString()).isEqualTo("Studio Ghibli style. error cat");
        JsonNode slow = ApiClient.json(alice().post("/v1/videos", BODY.replace("a cat in the rain", "slow cat") + ",\"enhance_prompt\":true}"));
        assertThat(slow.at("/prompt_enhancement/status").asString()).isEqualTo("fallback");
        assertThat(slow.at("/prompt_enhancement/reason").asString()).startsWith("timeout:");
        alice().awaitTerminal(v.get("id").asString(), Duration.ofSeconds(60));
        alice().awaitTerminal(slow.get("id").asString(), Duration.ofSeconds(60));
    }
}
