package dev.kaze.api;

import dev.kaze.KazeApplication;
import dev.kaze.jobs.store.PostgresJobStoreTest;
import dev.kaze.json.Json;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;
import tools.jackson.databind.JsonNode;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * An api-role process and a worker-role process in one JVM over one PostgreSQL schema: a video posted to the api
 * process is rendered by the worker, and its events (appended by the worker's store) reach a client of the api
 * process over SSE, live, through LISTEN/NOTIFY. PostgreSQL: database {@code test} at 127.0.0.1:5432 (trust auth)
 * unless {@code -Dkaze.test.pg.url} / {@code -Dkaze.test.pg.user} say otherwise; {@code -Dkaze.test.pg=off} skips.
 */
class RolesPostgresTest {
    static final String SMALL = "{\"prompt\":\"a cat in the rain\",\"size\":\"64x48\",\"frames\":9,\"steps\":3,\"seed\":5}";
    PostgresJobStoreTest.Schema schema;

    @TempDir Path tmp;

    ConfigurableApplicationContext start(String role) {
        return new SpringApplicationBuilder(KazeApplication.class).run(
                "--server.port=0",
                "--spring.datasource.url=" + schema.url(),
                "--spring.datasource.username=" + schema.user(),
                "--kaze.data-dir=" + tmp.resolve("data"),   // shared job files, as on a shared volume
                "--kaze.auth.anonymous=true",
                "--kaze.role=" + role);
    }

    @Test
    void aVideoPostedToTheApiIsRenderedByTheWorkerAndItsEventsReachTheApisSse() throws Exception {
        schema = PostgresJobStoreTest.Schema.create("kaze_roles_test_");
        try (ConfigurableApplicationContext api = start("api")) {
            int port = Integer.parseInt(api.getEnvironment().getProperty("local.server.port"));
            ApiClient client = new ApiClient(port, "any");
            HttpResponse<String> created = client.post("/v1/videos", SMALL);
            assertThat(created.statusCode()).as(created.body()).isEqualTo(202);
            String id = ApiClient.json(created).get("id").asString();

            // subscribed before any worker runs: what follows "queued" can only arrive live from the other process
            HttpResponse<Stream<String>> sse = ApiClient.HTTP.send(HttpRequest.newBuilder(
                            URI.create("http://127.0.0.1:" + port + "/v1/videos/" + id + "/events"))
                    .header("Authorization", "Bearer any").timeout(Duration.ofSeconds(120)).build(), HttpResponse.BodyHandlers.ofLines());
            assertThat(sse.statusCode()).isEqualTo(200);
            CompletableFuture<List<JsonNode>> events = CompletableFuture.supplyAsync(() -> {
                List<JsonNode> out = new ArrayList<>();
                sse.body().filter(l -> l.startsWith("data:")).forEach(l -> out.add(Json.MAPPER.readTree(l.substring(5).strip())));
                return out;
            });
            Thread.sleep(1000);
            assertThat(ApiClient.json(client.get("/v1/videos/" + id)).get("status").asString()).isEqualTo("queued");

            try (ConfigurableApplicationContext ignored = start("worker")) {
                List<JsonNode> received = events.get(120, TimeUnit.SECONDS);
                List<String> types = received.stream().map(e -> e.get("type").asString()).toList();
                assertThat(types.getFirst()).isEqualTo("queued");
                assertThat(types).contains("started");
                assertThat(types.getLast()).isEqualTo("completed");
                assertThat(received.stream().filter(e -> e.at("/data/stage").asString().equals("denoise") && e.at("/data/step").asInt() > 0)
                        .map(e -> e.at("/data/step").asInt()).toList()).containsExactly(1, 2, 3);
                JsonNode done = ApiClient.json(client.get("/v1/videos/" + id));
                assertThat(done.get("status").asString()).isEqualTo("completed");
                HttpResponse<byte[]> mp4 = client.sendBytes(client.request("/v1/videos/" + id + "/content").GET().build());
                assertThat(mp4.statusCode()).isEqualTo(200);
                assertThat(mp4.headers().firstValue("Content-Type")).hasValue("video/mp4");
            }
        }
    }

    @AfterEach
    void dropSchema() throws SQLException {
        if (schema != null) schema.close();
    }
}
