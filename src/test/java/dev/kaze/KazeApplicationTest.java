package dev.kaze;

import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;

import static org.assertj.core.api.Assertions.assertThat;

/** The server starts on its embedded defaults and answers its health endpoint. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "spring.datasource.url=jdbc:h2:mem:health;DB_CLOSE_DELAY=-1", "kaze.data-dir=target/test-data/health"})
class KazeApplicationTest {
    @LocalServerPort int port;

    HttpResponse<String> get(String path) throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void readinessWaitsForTheModelAndMetricsAndOpenApiAreServed() throws Exception {
        long end = System.nanoTime() + 60_000_000_000L;
        while (!get("/actuator/health/readiness").body().contains("\"UP\"") && System.nanoTime() < end) Thread.sleep(100);
        HttpResponse<String> health = get("/actuator/health");
        assertThat(health.body()).contains("\"UP\"");
        HttpResponse<String> prometheus = get("/actuator/prometheus");
        assertThat(prometheus.statusCode()).isEqualTo(200);
        assertThat(prometheus.body()).contains("kaze_queue_depth").contains("kaze_native_memory_bytes");
        HttpResponse<String> api = get("/v3/api-docs");
        assertThat(api.statusCode()).isEqualTo(200);
        assertThat(api.body()).contains("/v1/videos").contains("/v1/videos/{id}/content");
    }

    @Test
    void healthIsUp() throws Exception {
        HttpResponse<String> r = HttpClient.newHttpClient().send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/actuator/health")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).contains("\"status\":\"UP\"");
    }
}
