package dev.kaze.api;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The server process is killed (SIGKILL, no graceful shutdown) while a job renders; started again
 * on the same store, it resumes the job from its last checkpoint, and the frames equal those of an
 * uninterrupted run of the same request.
 */
class DurabilityTest {
    static final String REQUEST = "{\"prompt\":\"a lighthouse at dusk\",\"size\":\"384x384\",\"frames\":17,\"steps\":30,\"seed\":99}";
    final List<Process> processes = new ArrayList<>();

    @AfterEach void killAll() {
        processes.forEach(Process::destroyForcibly);
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) { return s.getLocalPort(); }
    }

    Process start(Path dataDir, int port) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb = new ProcessBuilder(java, "-Xmx2g", "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), "dev.kaze.KazeApplication",
                "--server.port=" + port,
                "--spring.datasource.url=jdbc:h2:file:" + dataDir.resolve("jobs").toAbsolutePath(),
                "--kaze.data-dir=" + dataDir.toAbsolutePath(),
                "--kaze.auth.anonymous=true",
                "--kaze.worker.checkpoint-every=2");
        pb.redirectErrorStream(true).redirectOutput(dataDir.resolve("server-" + processes.size() + ".log").toFile());
        Process p = pb.start();
        processes.add(p);
        return p;
    }

    static void awaitHealthy(ApiClient client, Process p) throws InterruptedException {
        long end = System.nanoTime() + Duration.ofSeconds(90).toNanos();
        while (System.nanoTime() < end) {
            assertThat(p.isAlive()).as("server process is running").isTrue();
            try {
                if (client.get("/actuator/health").body().contains("\"UP\"")) return;
            } catch (RuntimeException notYet) {
                // not listening yet
            }
            Thread.sleep(200);
        }
        throw new AssertionError("server did not become healthy");
    }

    String framesHash(Path dataDir, String id) throws IOException {
        JsonNode manifest = ApiClient.JSON.readTree(Files.readString(dataDir.resolve("jobs").resolve(id).resolve("request.json")));
        return manifest.get("frames_sha256").asString();
    }

    @Test
    void aKilledRenderResumesFromItsCheckpointWithIdenticalFrames(@TempDir Path crashDir) throws Exception {
        // kill -9 once checkpoints exist
        int port = freePort();
        Process first = start(crashDir, port);
        ApiClient client = new ApiClient(port, null);
        awaitHealthy(client, first);
        String id = ApiClient.json(client.post("/v1/videos", REQUEST)).get("id").asString();
        long end = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        int step = 0;
        while (System.nanoTime() < end && step < 7) {
            step = ApiClient.json(client.get("/v1/videos/" + id)).get("step").asInt();
            Thread.sleep(20);
        }
        assertThat(step).as("the render got past its first checkpoints").isBetween(7, 29);
        first.destroyForcibly().waitFor();   // SIGKILL: no shutdown hooks run

        port = freePort();
        Process second = start(crashDir, port);
        client = new ApiClient(port, null);
        awaitHealthy(client, second);
        JsonNode done = client.awaitTerminal(id, Duration.ofSeconds(180));
        assertThat(done.get("status").asString()).isEqualTo("completed");
        List<JsonNode> events = new ArrayList<>();
        String sse = client.send(client.request("/v1/videos/" + id + "/events").header("Accept", "text/event-stream").GET().build()).body();
        sse.lines().filter(l -> l.startsWith("data:")).forEach(l -> events.add(ApiClient.JSON.readTree(l.substring(5))));
        List<String> types = events.stream().map(e -> e.get("type").asString()).toList();
        assertThat(types).contains("requeued", "resumed").endsWith("completed");
        int resumedAt = events.stream().filter(e -> e.get("type").asString().equals("resumed")).findFirst().orElseThrow().at("/data/step").asInt();
        assertThat(resumedAt).isGreaterThanOrEqualTo(2).isEven();
        // after the resume, the steps continue from the checkpoint rather than from 1
        int firstStepAfterResume = events.stream().dropWhile(e -> !e.get("type").asString().equals("resumed"))
                .filter(e -> e.at("/data/stage").asString().equals("denoise") && e.at("/data/step").asInt() > 0)
                .findFirst().orElseThrow().at("/data/step").asInt();
        assertThat(firstStepAfterResume).isEqualTo(resumedAt + 1);
        // the same request, never interrupted in the restarted server
        String refId = ApiClient.json(client.post("/v1/videos", REQUEST)).get("id").asString();
        assertThat(client.awaitTerminal(refId, Duration.ofSeconds(180)).get("status").asString()).isEqualTo("completed");
        String refEvents = client.send(client.request("/v1/videos/" + refId + "/events").header("Accept", "text/event-stream").GET().build()).body();
        assertThat(refEvents).contains("event:completed").doesNotContain("event:resumed");
        assertThat(framesHash(crashDir, id)).isEqualTo(framesHash(crashDir, refId));
    }
}
