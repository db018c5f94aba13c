package dev.kaze.api;

import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import tools.jackson.databind.JsonNode;

import java.net.http.HttpResponse;

import static org.assertj.core.api.Assertions.assertThat;

/** With no kaze.prompt-enhancer.base-url the enhancer says it is off, and names what to set. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "spring.datasource.url=jdbc:h2:mem:e2e-enhancer-off;DB_CLOSE_DELAY=-1",
        "kaze.data-dir=target/test-data/e2e-enhancer-off",
        "kaze.auth.anonymous=false",
        "kaze.auth.keys[0].id=alice", "kaze.auth.keys[0].key=alice-key",
        "kaze.worker.enabled=false"
})
class PromptEnhancerOffTest {
    @LocalServerPort int port;

    @Test
    void enhanceIs503AndEnhancePromptOnAVideoIs400() {
        ApiClient alice = new ApiClient(port, "alice-key");
        HttpResponse<String> off = alice.post("/v1/prompts/enhance", "{\"prompt\":\"a cat\"}");
        assertThat(off.statusCode()).isEqualTo(503);
        JsonNode p = ApiClient.json(off);
        assertThat(p.get("type").asString()).endsWith("prompt-enhancer-off");
        assertThat(p.get("detail").asString()).contains("kaze.prompt-enhancer.base-url").contains("kaze.prompt-enhancer.model");

        HttpResponse<String> video = alice.post("/v1/videos", "{\"prompt\":\"a cat\",\"enhance_prompt\":true}");
        assertThat(video.statusCode()).isEqualTo(400);
        assertThat(video.body()).contains("enhance_prompt").contains("kaze.prompt-enhancer.base-url");
        assertThat(new ApiClient(port, null).post("/v1/prompts/enhance", "{\"prompt\":\"a cat\"}").statusCode()).isEqualTo(401);
    }
}
