package dev.kaze.api;

import dev.kaze.KazeApplication;
import dev.kaze.json.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.context.ConfigurableApplicationContext;
import tools.jackson.databind.JsonNode;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.util.Set;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A server started without keys and without anonymous access (not the local profile) creates an
 * admin key in its data directory at the first start, shows it in the log that once, points callers
 * without a key at the file (never at the key), and reuses the key after a restart without logging
 * it again. The admin key may pull models; a pull that cannot reach the hub ends with a problem event.
 */
@ExtendWith(OutputCaptureExtension.class)
class FirstRunKeyTest {
    @TempDir Path tmp;
    final HttpClient http = HttpClient.newHttpClient();

    ConfigurableApplicationContext start() {
        return new SpringApplicationBuilder(KazeApplication.class).run(
                "--server.port=0",
                "--spring.datasource.url=jdbc:h2:mem:first-run-" + UUID.randomUUID() + ";DB_CLOSE_DELAY=-1",
                "--kaze.data-dir=" + tmp.resolve("data"),
                "--kaze.auth.anonymous=false",
                "--kaze.worker.enabled=false",
                "--kaze.models.hf-endpoint=http://127.0.0.1:1");
    }

    HttpResponse<String> send(ConfigurableApplicationContext app, String method, String path, String key) throws Exception {
        String port = app.getEnvironment().getProperty("local.server.port");
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .method(method, HttpRequest.BodyPublishers.noBody()).timeout(Duration.ofSeconds(30));
        if (key != null) b.header("Authorization", "Bearer " + key);
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void firstStartCreatesTheAdminKeyLaterStartsReuseItQuietly(CapturedOutput output) throws Exception {
        Path file = tmp.resolve("data/admin-key").toAbsolutePath().normalize();
        String key;
        try (ConfigurableApplicationContext app = start()) {
            assertThat(file).isRegularFile();
            assertThat(Files.getPosixFilePermissions(file)).isEqualTo(Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE));
            key = Files.readString(file).strip();
            assertThat(key).startsWith("kz-").hasSizeGreaterThan(40);
            assertThat(output.getAll()).contains(key).contains(file.toString());

            HttpResponse<String> none = send(app, "GET", "/v1/models", null);
            assertThat(none.statusCode()).isEqualTo(401);
            JsonNode problem = Json.MAPPER.readTree(none.body());
            assertThat(problem.path("detail").asString()).isEqualTo("no key was sent; the admin key is in " + file
                    + " on the server: send it as 'Authorization: Bearer <key>'");
            assertThat(none.body()).doesNotContain(key);
            HttpResponse<String> wrong = send(app, "GET", "/v1/models", "sk-guess");
            assertThat(wrong.statusCode()).isEqualTo(401);
            assertThat(wrong.body()).contains("unknown API key").doesNotContain(key);

            assertThat(send(app, "GET", "/v1/models", key).statusCode()).isEqualTo(200);
            assertThat(send(app, "GET", "/v1/videos", key).statusCode()).isEqualTo(200);

            // the admin key may pull; this hub cannot be reached, so the pull ends with a problem event
            HttpResponse<String> pull = send(app, "POST", "/v1/models/wan2.1-t2v-1.3b/pull", key);
            assertThat(pull.statusCode()).isIn(200, 202);
            String id = Json.MAPPER.readTree(pull.body()).path("id").asString();
            HttpResponse<String> events = send(app, "GET", "/v1/models/pulls/" + id + "/events", key);
            assertThat(events.body()).contains("event:problem").contains("cannot reach http://127.0.0.1:1")
                    .contains("https://kaze.dev/problems/pull-failed");
            assertThat(events.body()).doesNotContain("event:done");
            JsonNode failed = Json.MAPPER.readTree(send(app, "GET", "/v1/models/pulls/" + id, key).body());
            assertThat(failed.path("status").asString()).isEqualTo("failed");
            assertThat(failed.path("error").path("detail").asString()).contains("cannot reach");
        }
        int logged = output.getAll().split(key, -1).length - 1;

        try (ConfigurableApplicationContext app = start()) {
            assertThat(Files.readString(file).strip()).isEqualTo(key);
            assertThat(send(app, "GET", "/v1/models", key).statusCode()).isEqualTo(200);
            assertThat(send(app, "GET", "/v1/models", null).statusCode()).isEqualTo(401);
        }
        assertThat(output.getAll().split(key, -1).length - 1).as("the key is logged at the first start only").isEqualTo(logged);
        assertThat(output.getAll()).contains("using the admin API key in " + file);
    }
}
