package dev.kaze.jobs.webhooks;

import org.junit.jupiter.api.Test;

import java.net.URI;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class WebhookTargetTest {
    static final String SECRET = WebhookSignature.newSecret();

    static WebhookTarget target(String url, Set<String> events) {
        return new WebhookTarget(URI.create(url), events, SECRET);
    }

    @Test
    void acceptsHttpAndHttpsUrls() {
        assertThat(target("https://example.com/hooks/kaze?x=1", null).url()).hasToString("https://example.com/hooks/kaze?x=1");
        assertThat(target("http://127.0.0.1:8080/", null).url().getPort()).isEqualTo(8080);
        assertThat(target("HTTPS://Example.com", null).url().getHost()).isEqualTo("Example.com");
    }

    @Test
    void rejectsOtherSchemesRelativeUrlsCredentialsAndLongUrls() {
        for (String url : new String[]{"ftp://example.com/x", "file:///etc/passwd", "/hooks", "example.com/hooks", "mailto:a@b.c"}) {
            assertThatThrownBy(() -> target(url, null)).as(url).hasMessageContaining("http:// or https://");
        }
        assertThatThrownBy(() -> target("http:///path", null)).hasMessageContaining("host");
        assertThatThrownBy(() -> target("https://user:hunter2@example.com/hook", null))
                .hasMessageContaining("credentials").hasMessageNotContaining("hunter2");
        String longUrl = "https://example.com/" + "a".repeat(WebhookTarget.MAX_URL_LENGTH);
        assertThatThrownBy(() -> target(longUrl, null)).hasMessageContaining("at most 2048");
        assertThat(target(longUrl.substring(0, WebhookTarget.MAX_URL_LENGTH), null)).isNotNull();
        assertThatThrownBy(() -> new WebhookTarget(null, null, SECRET)).hasMessageContaining("missing");
        assertThatThrownBy(() -> new WebhookTarget(URI.create("https://example.com"), null, "hunter2"))
                .hasMessageContaining("whsec_");
    }

    @Test
    void noEventsMeansAllButProgress() {
        for (WebhookTarget t : new WebhookTarget[]{target("https://example.com", null), target("https://example.com", Set.of())}) {
            assertThat(t.events()).containsExactlyInAnyOrder("queued", "started", "completed", "failed", "cancelled");
            assertThat(t.accepts("progress")).isFalse();
            assertThat(t.accepts("completed")).isTrue();
        }
    }

    @Test
    void namedEventsAreCheckedAndNormalised() {
        WebhookTarget t = target("https://example.com", Set.of("Completed ", "progress"));
        assertThat(t.events()).containsExactlyInAnyOrder("completed", "progress");
        assertThat(t.accepts("failed")).isFalse();
        assertThatThrownBy(() -> target("https://example.com", Set.of("finished")))
                .hasMessageContaining("unknown webhook event 'finished'").hasMessageContaining("cancelled");
    }

    @Test
    void toStringHidesTheSecret() {
        assertThat(target("https://example.com", null).toString()).doesNotContain(SECRET.substring(6));
    }

    @Test
    void messagesAreChecked() {
        WebhookMessage m = WebhookMessage.of("job_1", 0, "queued", "{}");
        assertThat(m.id()).matches("msg_[0-9a-f]{32}");
        assertThat(WebhookMessage.of("job_1", 0, "queued", "{}").id()).isNotEqualTo(m.id());
        assertThatThrownBy(() -> WebhookMessage.of("job_1", 0, "done", "{}")).hasMessageContaining("must be one of");
        assertThatThrownBy(() -> new WebhookMessage("msg 1", "job_1", 0, "queued", "{}")).hasMessageContaining("visible ASCII");
        assertThatThrownBy(() -> WebhookMessage.of(" ", 0, "queued", "{}")).hasMessageContaining("no job id");
        assertThatThrownBy(() -> WebhookMessage.of("job_1", -1, "queued", "{}")).hasMessageContaining("negative seq");
        assertThatThrownBy(() -> WebhookMessage.of("job_1", 0, "queued", "")).hasMessageContaining("empty body");
    }
}
