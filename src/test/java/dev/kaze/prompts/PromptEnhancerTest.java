package dev.kaze.prompts;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

import java.net.ServerSocket;
import java.net.URI;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The enhancer against a local server speaking the chat-completions protocol. */
class PromptEnhancerTest {
    static final String TRIGGER = "Studio Ghibli style.";
    static ChatServer chat;

    @BeforeAll static void start() throws Exception { chat = new ChatServer(); }

    @AfterAll static void stop() { chat.close(); }

    static PromptEnhancer enhancer(String key, Duration timeout) {
        return new PromptEnhancer(new EnhancerSettings(URI.create(chat.baseUrl()), "qwen2.5:7b", key, timeout), TRIGGER, 4000);
    }

    @Test
    void sendsModelSystemAndUserMessagesAndTheKeyAndReturnsTheReply() {
        EnhancedPrompt e = enhancer("sk-test", Duration.ofSeconds(10)).enhance("a girl in a meadow");
        assertThat(e.prompt()).isEqualTo("Studio Ghibli style. " + ChatServer.EXPANSION);
        assertThat(e.model()).isEqualTo("qwen2.5:7b");
        ChatServer.Received r = chat.received().getLast();
        assertThat(r.authorization()).isEqualTo("Bearer sk-test");
        assertThat(r.contentType()).startsWith("application/json");
        JsonNode body = r.body();
        assertThat(body.get("model").asString()).isEqualTo("qwen2.5:7b");
        assertThat(body.get("stream").asBoolean()).isFalse();
        JsonNode messages = body.get("messages");
        assertThat(messages.size()).isEqualTo(2);
        assertThat(messages.get(0).get("role").asString()).isEqualTo("system");
        String system = messages.get(0).get("content").asString();
        assertThat(system).contains("\"Studio Ghibli style.\"").contains("80 to 100 words").contains("English").contains("no other art style");
        assertThat(messages.get(1).get("role").asString()).isEqualTo("user");
        assertThat(messages.get(1).get("content").asString()).isEqualTo("a girl in a meadow");
    }

    @Test
    void noKeyNoAuthorizationHeader() {
        enhancer(null, Duration.ofSeconds(10)).enhance("a fox");
        assertThat(chat.received().getLast().authorization()).isNull();
    }

    @Test
    void anErrorAnswerFailsWithTheEndpointsMessage() {
        assertThatThrownBy(() -> enhancer(null, Duration.ofSeconds(10)).enhance("error please"))
                .isInstanceOfSatisfying(EnhancerException.class, e -> assertThat(e.kind()).isEqualTo(EnhancerException.Kind.FAILED))
                .hasMessageContaining("answered 500").hasMessageContaining("model overloaded, try later");
        assertThatThrownBy(() -> enhancer("bad", Duration.ofSeconds(10)).enhance("denied"))
                .hasMessageContaining("answered 401").hasMessageContaining("Incorrect API key");
        assertThatThrownBy(() -> enhancer(null, Duration.ofSeconds(10)).enhance("garbage"))
                .isInstanceOf(EnhancerException.class).hasMessageContaining("choices[0].message.content");
    }

    @Test
    void aReplyWithoutTheTriggerPhraseFails() {
        assertThatThrownBy(() -> enhancer(null, Duration.ofSeconds(10)).enhance("no style: a cat"))
                .isInstanceOfSatisfying(EnhancerException.class, e -> assertThat(e.kind()).isEqualTo(EnhancerException.Kind.FAILED))
                .hasMessageContaining("does not start with the trigger phrase");
    }

    @Test
    void aSlowAnswerTimesOut() {
        long began = System.nanoTime();
        assertThatThrownBy(() -> enhancer(null, Duration.ofMillis(500)).enhance("slow"))
                .isInstanceOfSatisfying(EnhancerException.class, e -> assertThat(e.kind()).isEqualTo(EnhancerException.Kind.TIMEOUT))
                .hasMessageContaining("did not answer within 500 ms");
        assertThat(Duration.ofNanos(System.nanoTime() - began)).isLessThan(Duration.ofMillis(2500));
    }

    @Test
    void aDownEndpointFailsSayingSo() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) { port = s.getLocalPort(); }   // free, nothing listens
        PromptEnhancer down = new PromptEnhancer(new EnhancerSettings(URI.create("http://127.0.0.1:" + port + "/v1"), "m", null,
                Duration.ofSeconds(5)), TRIGGER, 4000);
        assertThatThrownBy(() -> down.enhance("a cat"))
                .isInstanceOfSatisfying(EnhancerException.class, e -> assertThat(e.kind()).isEqualTo(EnhancerException.Kind.FAILED))
                .hasMessageContaining("cannot reach the prompt enhancer at http://127.0.0.1:" + port + "/v1/chat/completions");
    }

    @Test
    void offSaysSoAndSettingsAreChecked() {
        assertThat(PromptEnhancer.off().enabled()).isFalse();
        assertThatThrownBy(() -> new EnhancerSettings(URI.create("ftp://x/v1"), "m", null, Duration.ofSeconds(1)))
                .hasMessageContaining("kaze.prompt-enhancer.base-url");
        assertThatThrownBy(() -> new EnhancerSettings(URI.create("http://x/v1"), " ", null, Duration.ofSeconds(1)))
                .hasMessageContaining("kaze.prompt-enhancer.model");
        assertThat(new EnhancerSettings(URI.create("http://x:8080/v1/"), "m", null, Duration.ofSeconds(1)).completionsUrl())
                .hasToString("http://x:8080/v1/chat/completions");
    }
}
