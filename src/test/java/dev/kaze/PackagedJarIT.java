package dev.kaze;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The packaged jar, as users run it ({@code java -jar kaze.jar}), starts and serves: readiness, the API,
 * the OpenAPI description and the studio page. The tests run on Maven's test class path, which can hold
 * what the jar lacks (a dependency whose scope a test-only declaration changed once made the jar fail
 * at start-up while every test passed); this runs the jar itself, with no Docker needed.
 */
class PackagedJarIT {
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @Test
    void theJarStartsAndServes(@TempDir Path data) throws Exception {
        Path jar = Path.of(System.getProperty("kaze.jar", "target/kaze-0.1.0-SNAPSHOT.jar")).toAbsolutePath();
        assertThat(jar).as("the packaged jar (run ./mvnw verify, which packages it first)").isRegularFile();
        int port = freePort();
        Path log = data.resolve("kaze.log");
        Process kaze = new ProcessBuilder(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-Xmx1g", "-jar", jar.toString(),
                "--server.port=" + port, "--kaze.data-dir=" + data, "--spring.profiles.active=local",
                "--spring.datasource.url=jdbc:h2:file:" + data.resolve("jobs")))
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            String base = "http://127.0.0.1:" + port;
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
            String readiness = null;
            while (System.nanoTime() < deadline && kaze.isAlive()) {
                readiness = body(base + "/actuator/health/readiness");
                if (readiness != null && readiness.contains("\"UP\"")) break;
                Thread.sleep(500);
            }
            assertThat(readiness).as("readiness of the packaged jar; its log:%n%s", tail(log)).contains("\"UP\"");
            assertThat(body(base + "/v3/api-docs")).as("the OpenAPI description").contains("/v1/videos");
            assertThat(body(base + "/v1/models")).as("the models API").contains("\"active_model\"");
            assertThat(body(base + "/")).as("the studio page").contains("<html");
        } finally {
            kaze.destroy();
            if (!kaze.waitFor(30, TimeUnit.SECONDS)) kaze.destroyForcibly().waitFor();
        }
    }

    private static String body(String url) {
        try {
            HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).build(),
                    HttpResponse.BodyHandlers.ofString());
            return r.statusCode() / 100 == 2 ? r.body() : null;
        } catch (IOException e) {
            return null;   // not listening yet
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private static String tail(Path log) throws IOException {
        List<String> lines = Files.readAllLines(log);
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
    }
}
