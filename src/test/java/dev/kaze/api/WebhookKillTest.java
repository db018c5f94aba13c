package dev.kaze.api;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * kill -9 with webhook deliveries pending: a server sends a video's events to a receiver that is down, is killed
 * (SIGKILL, no shutdown hooks), and a new server on the same data directory, with the receiver up, delivers every
 * one of them, signed, with the {@code webhook-id} of its event; duplicates repeat the same message.
 */
class WebhookKillTest {
    static final String SECRET = VideoApiEndToEndTest.SECRET;
    final List<Process> processes = new ArrayList<>();

    @AfterEach void killAll() {
        processes.forEach(Process::destroyForcibly);
    }

    Process start(Path dataDir, int port) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb = new ProcessBuilder(java, "-Xmx1g", "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), "dev.kaze.KazeApplication",
                "--server.port=" + port,
                "--spring.datasource.url=jdbc:h2:file:" + dataDir.resolve("jobs").toAbsolutePath(),
                "--kaze.data-dir=" + dataDir.toAbsolutePath(),
                "--kaze.auth.anonymous=true",
                "--kaze.webhooks.secret=" + SECRET,
                "--kaze.webhooks.outbox-lease=2s");
        pb.redirectErrorStream(true).redirectOutput(dataDir.resolve("server-" + processes.size() + ".log").toFile());
        Process p = pb.start();
        processes.add(p);
        return p;
    }

    @Test
    void deliveriesPendingAtAKillGoOutFromTheNextServer(@TempDir Path dir) throws Exception {
        int hookPort = DurabilityTest.freePort(); // the receiver is down: nothing listens there
        String hook = "http://127.0.0.1:" + hookPort + "/hook";
        int port = DurabilityTest.freePort();
        Process first = start(dir, port);
        ApiClient client = new ApiClient(port, null);
        DurabilityTest.awaitHealthy(client, first);
        String body = VideoApiEndToEndTest.SMALL.replace("}", ",\"webhook\":{\"url\":\"" + hook
                + "\",\"events\":[\"queued\",\"started\",\"completed\"]}}");
        String id = ApiClient.json(client.post("/v1/videos", body)).get("id").asString();
        assertThat(client.awaitTerminal(id, Duration.ofSeconds(120)).get("status").asString()).isEqualTo("completed");
        Thread.sleep(1500); // the completed event reaches the outbox and its first attempt fails
        first.destroyForcibly().waitFor();   // SIGKILL

        try (WebhookReceiver receiver = new WebhookReceiver(SECRET, hookPort)) {
            port = DurabilityTest.freePort();
            Process second = start(dir, port);
            client = new ApiClient(port, null);
            DurabilityTest.awaitHealthy(client, second);

            Set<String> expected = new TreeSet<>();
            String sse = client.send(client.request("/v1/videos/" + id + "/events").header("Accept", "text/event-stream").GET().build()).body();
            sse.lines().filter(l -> l.startsWith("data:")).map(l -> ApiClient.JSON.readTree(l.substring(5)))
                    .filter(e -> Set.of("queued", "started", "completed").contains(e.get("type").asString()))
                    .forEach(e -> expected.add("msg_" + id + "_" + e.get("seq").asLong()));
            assertThat(expected).hasSize(3);

            Map<String, String> bodies = new HashMap<>();
            long end = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (!bodies.keySet().containsAll(expected) && System.nanoTime() < end) {
                WebhookReceiver.Delivery d = receiver.poll(1);
                if (d == null) continue;
                String earlier = bodies.putIfAbsent(d.id(), d.body());
                if (earlier != null) assertThat(d.body()).as("duplicate of " + d.id()).isEqualTo(earlier);
            }
            assertThat(new TreeSet<>(bodies.keySet())).as("every pending delivery, none lost").isEqualTo(expected);
            for (Map.Entry<String, String> e : bodies.entrySet()) {
                JsonNode json = ApiClient.JSON.readTree(e.getValue());
                assertThat(json.at("/data/id").asString()).isEqualTo(id);
                assertThat(e.getKey()).isEqualTo("msg_" + id + "_" + json.at("/data/seq").asLong());
            }
        }
    }
}
