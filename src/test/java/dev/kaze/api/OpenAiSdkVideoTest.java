package dev.kaze.api;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.core.http.HttpResponse;
import com.openai.errors.BadRequestException;
import com.openai.errors.NotFoundException;
import com.openai.errors.UnauthorizedException;
import com.openai.models.videos.Video;
import com.openai.models.videos.VideoCreateParams;
import com.openai.models.videos.VideoDeleteResponse;
import com.openai.models.videos.VideoDownloadContentParams;
import com.openai.models.videos.VideoListPage;
import com.openai.models.videos.VideoListParams;
import com.openai.models.videos.VideoModel;
import com.openai.models.videos.VideoSeconds;
import com.openai.models.videos.VideoSize;
import dev.kaze.video.VideoInfo;
import dev.kaze.video.VideoProbe;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The official OpenAI Java SDK, pointed at Kaze's base URL with a Kaze API key, drives the whole
 * videos lifecycle against the real server and the preview model: create (multipart), retrieve
 * until completed, list with its cursor and order, download the MP4, delete, and errors as the
 * SDK's typed exceptions.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "spring.datasource.url=jdbc:h2:mem:openai-sdk;DB_CLOSE_DELAY=-1",
        "kaze.data-dir=target/test-data/openai-sdk",
        "kaze.auth.anonymous=false",
        "kaze.auth.keys[0].id=sdk-user", "kaze.auth.keys[0].key=sk-kaze-test-123",
        "kaze.cors.allowed-origins[0]=https://app.example"
})
class OpenAiSdkVideoTest {
    @LocalServerPort int port;
    OpenAIClient client;

    @BeforeEach
    void connect() {
        client = OpenAIOkHttpClient.builder()
                .baseUrl("http://127.0.0.1:" + port + "/v1")
                .apiKey("sk-kaze-test-123")
                .organization("org-kaze-test")
                .project("proj-kaze-test")
                .maxRetries(0)
                .timeout(Duration.ofSeconds(30))
                .build();
    }

    @AfterEach
    void close() { client.close(); }

    static VideoCreateParams small(String prompt) {
        return VideoCreateParams.builder()
                .prompt(prompt)
                .model(VideoModel.SORA_2)
                .seconds(VideoSeconds.of("1"))
                .size(VideoSize.of("64x48"))
                .build();
    }

    Video awaitCompleted(String id) throws InterruptedException {
        long end = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        Video v = client.videos().retrieve(id);
        while (!v.status().equals(Video.Status.COMPLETED) && System.nanoTime() < end) {
            assertThat(v.status()).as("status of %s", id).isIn(Video.Status.QUEUED, Video.Status.IN_PROGRESS);
            Thread.sleep(100);
            v = client.videos().retrieve(id);
        }
        assertThat(v.status()).as("status of %s after 60 s", id).isEqualTo(Video.Status.COMPLETED);
        return v;
    }

    @Test
    void createRetrieveListDownloadDelete() throws Exception {
        long before = Instant.now().getEpochSecond();
        Video created = client.videos().create(small("a paper boat on a pond"));
        String id = created.id();
        assertThat(id).startsWith("video_");
        assertThat(created._object_()).isEqualTo(JsonValue.from("video"));
        assertThat(created.status()).isIn(Video.Status.QUEUED, Video.Status.IN_PROGRESS);
        assertThat(created.seconds()).isEqualTo(VideoSeconds.of("1"));
        assertThat(created.size()).isEqualTo(VideoSize.of("64x48"));
        assertThat(created.prompt()).hasValue("a paper boat on a pond");
        assertThat(created.model().asString()).isNotBlank();
        assertThat(created.createdAt()).isBetween(before - 1, Instant.now().getEpochSecond() + 1);
        assertThat(created.error()).isEmpty();
        assertThat(created.completedAt()).isEmpty();

        Video done = awaitCompleted(id);
        assertThat(done.progress()).isEqualTo(100);
        assertThat(done.completedAt()).hasValueSatisfying(t -> assertThat(t).isBetween(done.createdAt(), Instant.now().getEpochSecond() + 1));
        assertThat(done.error()).isEmpty();
        assertThat(done.expiresAt()).isEmpty();
        assertThat(done.remixedFromVideoId()).isEmpty();
        assertThat(done.seconds().asString()).isEqualTo("1");
        assertThat(done.size().asString()).isEqualTo("64x48");
        // Kaze's own fields ride along as additional properties
        assertThat(done._additionalProperties()).containsKeys("stage", "request", "links");

        VideoListPage page = client.videos().list();
        assertThat(page.data()).extracting(Video::id).contains(id);
        assertThat(page.response()._object_()).isEqualTo(JsonValue.from("list"));
        assertThat(page.response().firstId()).hasValue(page.data().getFirst().id());
        assertThat(page.response().lastId()).hasValue(page.data().getLast().id());
        assertThat(page.response().hasMore()).isFalse();

        Path mp4 = Files.createTempFile("kaze-openai", ".mp4");
        try (HttpResponse content = client.videos().downloadContent(id); InputStream body = content.body()) {
            assertThat(content.statusCode()).isEqualTo(200);
            assertThat(content.headers().values("Content-Type")).containsExactly("video/mp4");
            Files.copy(body, mp4, StandardCopyOption.REPLACE_EXISTING);
        }
        VideoInfo info = VideoProbe.probe(mp4);
        assertThat(info.codec()).isEqualTo("h264");
        assertThat(info.pixFmt()).isEqualTo("yuv420p");
        assertThat(info.width()).isEqualTo(64);
        assertThat(info.height()).isEqualTo(48);
        assertThat(info.fps().num()).isEqualTo(16);
        assertThat(info.frameCount()).isEqualTo(17);   // 1 s at 16 fps, as 4k+1 frames
        Files.delete(mp4);

        try (HttpResponse thumb = client.videos().downloadContent(id, VideoDownloadContentParams.builder()
                .variant(VideoDownloadContentParams.Variant.THUMBNAIL).build()); InputStream body = thumb.body()) {
            byte[] jpeg = body.readAllBytes();
            assertThat(thumb.headers().values("Content-Type")).containsExactly("image/jpeg");
            assertThat(jpeg).startsWith((byte) 0xFF, (byte) 0xD8);
        }
        assertThatThrownBy(() -> client.videos().downloadContent(id, VideoDownloadContentParams.builder()
                .variant(VideoDownloadContentParams.Variant.SPRITESHEET).build()))
                .isInstanceOf(BadRequestException.class)
                .satisfies(e -> assertThat(((BadRequestException) e).param()).hasValue("variant"));

        VideoDeleteResponse deleted = client.videos().delete(id);
        assertThat(deleted.id()).isEqualTo(id);
        assertThat(deleted.deleted()).isTrue();
        assertThat(deleted._object_()).isEqualTo(JsonValue.from("video.deleted"));
        assertThatThrownBy(() -> client.videos().retrieve(id)).isInstanceOf(NotFoundException.class)
                .hasMessageContaining(id);
        assertThatThrownBy(() -> client.videos().downloadContent(id)).isInstanceOf(NotFoundException.class);
    }

    @Test
    void listPagesWithAfterLimitAndOrder() {
        // three queued jobs that never need to render: they are deleted (cancelled) at the end
        List<String> ids = new java.util.ArrayList<>();
        for (String p : List.of("first", "second", "third")) ids.add(client.videos().create(small("list " + p)).id());
        try {
            VideoListPage desc = client.videos().list(VideoListParams.builder().limit(2).build());
            List<String> mine = desc.data().stream().map(Video::id).toList();
            assertThat(mine).containsExactly(ids.get(2), ids.get(1));
            assertThat(desc.response().hasMore()).isTrue();
            assertThat(desc.hasNextPage()).isTrue();
            VideoListPage next = desc.nextPage();   // the SDK sends after=<last_id>
            assertThat(next.params().after()).hasValue(ids.get(1));
            assertThat(next.data()).extracting(Video::id).startsWith(ids.get(0));

            List<String> all = new java.util.ArrayList<>();
            client.videos().list(VideoListParams.builder().limit(1).build()).autoPager().forEach(v -> all.add(v.id()));
            assertThat(all).containsSubsequence(ids.get(2), ids.get(1), ids.get(0)).doesNotHaveDuplicates();

            VideoListPage asc = client.videos().list(VideoListParams.builder().order(VideoListParams.Order.ASC).limit(100).build());
            List<String> ascending = asc.data().stream().map(Video::id).toList();
            assertThat(ascending).containsSubsequence(ids.get(0), ids.get(1), ids.get(2));
            VideoListPage afterFirst = client.videos().list(VideoListParams.builder().order(VideoListParams.Order.ASC)
                    .after(ids.get(0)).limit(1).build());
            assertThat(afterFirst.data()).extracting(Video::id).containsExactly(ids.get(1));

            assertThatThrownBy(() -> client.videos().list(VideoListParams.builder().limit(1000).build()))
                    .isInstanceOf(BadRequestException.class).hasMessageContaining("limit");
        } finally {
            for (String id : ids) client.videos().delete(id);
        }
    }

    @Test
    void rejectedRequestsSurfaceAsTheSdksTypedExceptionsWithKazesMessage() {
        assertThatThrownBy(() -> client.videos().create(small("")))
                .isInstanceOfSatisfying(BadRequestException.class, e -> {
                    assertThat(e.statusCode()).isEqualTo(400);
                    assertThat(e.getMessage()).isEqualTo("400: prompt: must not be empty");
                    assertThat(e.param()).hasValue("prompt");
                    assertThat(e.type()).hasValue("invalid_request_error");
                    assertThat(e.code()).isPresent();
                });
        assertThatThrownBy(() -> client.videos().create(VideoCreateParams.builder().prompt("a fox")
                .size(VideoSize.of("650x480")).build()))
                .isInstanceOf(BadRequestException.class)
                .hasMessageContaining("multiple of 16")
                .satisfies(e -> assertThat(((BadRequestException) e).param()).hasValue("size"));   // the field the client sent
        assertThatThrownBy(() -> client.videos().retrieve("video_doesnotexist")).isInstanceOf(NotFoundException.class);

        OpenAIClient stranger = OpenAIOkHttpClient.builder().baseUrl("http://127.0.0.1:" + port + "/v1")
                .apiKey("sk-wrong").maxRetries(0).build();
        try {
            assertThatThrownBy(() -> stranger.videos().list()).isInstanceOf(UnauthorizedException.class)
                    .hasMessageContaining("unknown API key");
        } finally {
            stranger.close();
        }
    }

    @Test
    void aBrowserMayPreflightTheHeadersTheSdksSend() throws Exception {
        // what the OpenAI SDKs add to every call, as a browser's CORS preflight would ask for them
        var preflight = java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + port + "/v1/videos"))
                .method("OPTIONS", java.net.http.HttpRequest.BodyPublishers.noBody())
                .header("Origin", "https://app.example")
                .header("Access-Control-Request-Method", "POST")
                .header("Access-Control-Request-Headers", "authorization,content-type,openai-organization,openai-project,"
                        + "x-stainless-lang,x-stainless-os,x-stainless-retry-count,x-stainless-timeout")
                .build();
        try (var http = java.net.http.HttpClient.newHttpClient()) {
            var r = http.send(preflight, java.net.http.HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.headers().firstValue("Access-Control-Allow-Origin")).hasValue("https://app.example");
            assertThat(r.headers().firstValue("Access-Control-Allow-Headers").orElse("").toLowerCase())
                    .contains("openai-organization", "x-stainless-os");
        }
    }
}
