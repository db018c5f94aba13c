package dev.kaze.api;

import dev.kaze.jobs.store.PostgresJobStoreTest;
import dev.kaze.json.Json;
import dev.kaze.storage.S3TestServer;
import dev.kaze.training.TestDatasets;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import tools.jackson.databind.JsonNode;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Kaze as it runs past one GPU, each part in its own JVM with its own disk: an api process and worker processes
 * over one PostgreSQL schema and one S3 bucket (s3proxy in this JVM). The workers are configured through the
 * environment variables the Helm chart sets ({@code KAZE_ROLE}, {@code KAZE_DATA_DIR}, {@code SPRING_DATASOURCE_*},
 * {@code KAZE_STORAGE_S3_*}), the api process through command-line properties.
 * <ol>
 *   <li>A video posted to the api process is claimed by the worker, which is killed (SIGKILL) once the render is past
 *   its first checkpoints; a new worker process, on a disk of its own, finds the dead worker silent past
 *   {@code kaze.jobs.worker-timeout}, requeues the job and resumes it from the checkpoint. The client follows it all
 *   on the api process's SSE and downloads the MP4 from the api process: the bytes are the bucket's object, and the
 *   frames equal those of an uninterrupted render of the same request.</li>
 *   <li>A LoRA uploaded to the api process is used by the worker (the manifest names its SHA-256).</li>
 *   <li>A training queued on the api process runs on the worker; its LoRA lands in the bucket and in the api
 *   process's catalog.</li>
 * </ol>
 * PostgreSQL: database {@code test} at 127.0.0.1:5432 (trust auth) unless {@code -Dkaze.test.pg.url} /
 * {@code -Dkaze.test.pg.user} say otherwise; {@code -Dkaze.test.pg=off} skips. Each child's log is written to a file
 * and its tail printed when the test fails.
 */
class MultiProcessTest {
    /** Keys of this install start with it inside the bucket. */
    static final String PREFIX = "kaze-mp/";
    static final Duration WORKER_TIMEOUT = Duration.ofSeconds(8);
    static final int CHECKPOINT_EVERY = 2;
    static final int STEPS = 24;
    static final int KILL_AT_STEP = 7;
    static final String REQUEST = "{\"prompt\":\"a lighthouse at dusk\",\"size\":\"256x256\",\"frames\":9,\"steps\":" + STEPS + ",\"seed\":99}";

    static S3TestServer s3;

    PostgresJobStoreTest.Schema schema;
    final Map<String, Child> children = new LinkedHashMap<>();

    @TempDir Path tmp;

    record Child(String name, Process process, Path log, Path dataDir, int port) {
        ApiClient client() { return new ApiClient(port, null); }

        String workerId() throws IOException { return Files.readString(dataDir.resolve("worker-id")).strip(); }
    }

    @BeforeAll
    static void startS3() throws Exception {
        s3 = S3TestServer.start("kaze-multiprocess");
    }

    @AfterAll
    static void stopS3() throws Exception {
        if (s3 != null) s3.close();
    }

    @AfterEach
    void stopChildrenAndDropSchema() throws Exception {
        for (Child c : children.values()) c.process().destroyForcibly().waitFor(30, TimeUnit.SECONDS);
        if (schema != null) schema.close();
    }

    /** The api process: every setting on its command line. */
    Child startApi() throws IOException {
        List<String> args = new ArrayList<>(List.of("--spring.datasource.url=" + schema.url(), "--spring.datasource.username=" + schema.user(),
                "--kaze.role=api", "--kaze.auth.anonymous=true"));
        for (String p : s3.properties(PREFIX)) args.add("--" + p);
        Path dataDir = Files.createDirectories(tmp.resolve("api"));
        args.add("--kaze.data-dir=" + dataDir);
        return start("api", dataDir, Map.of(), args);
    }

    /** A worker process on its own disk: its settings in the environment variables the Helm chart sets. */
    Child startWorker(String name) throws IOException {
        Path dataDir = Files.createDirectories(tmp.resolve(name));
        Map<String, String> env = new LinkedHashMap<>();
        env.put("KAZE_ROLE", "worker");
        env.put("KAZE_AUTH_ANONYMOUS", "true");
        env.put("KAZE_DATA_DIR", dataDir.toString());
        env.put("SPRING_DATASOURCE_URL", schema.url());
        env.put("SPRING_DATASOURCE_USERNAME", schema.user());
        env.put("KAZE_STORAGE_S3_ENDPOINT", s3.endpoint());
        env.put("KAZE_STORAGE_S3_BUCKET", s3.bucket());
        env.put("KAZE_STORAGE_S3_REGION", "us-east-1");
        env.put("KAZE_STORAGE_S3_PATHSTYLE", "true");
        env.put("KAZE_STORAGE_S3_ACCESSKEY", S3TestServer.ACCESS_KEY);
        env.put("KAZE_STORAGE_S3_SECRETKEY", S3TestServer.SECRET_KEY);
        env.put("KAZE_STORAGE_S3_PREFIX", PREFIX);   // not set by the chart (one install per bucket there)
        return start(name, dataDir, env, List.of("--kaze.jobs.worker-timeout=" + WORKER_TIMEOUT.toSeconds() + "s",
                "--kaze.worker.checkpoint-every=" + CHECKPOINT_EVERY));
    }

    Child start(String name, Path dataDir, Map<String, String> env, List<String> args) throws IOException {
        int port = DurabilityTest.freePort();
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = new ArrayList<>(List.of(java, "-Xmx2g", "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), "dev.kaze.KazeApplication", "--server.port=" + port));
        command.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(command);
        // only what this test sets: nothing of the developer's own KAZE_* or SPRING_* settings
        pb.environment().keySet().removeIf(k -> k.startsWith("KAZE_") || k.startsWith("SPRING_"));
        pb.environment().putAll(env);
        Path log = tmp.resolve(name + ".log");
        pb.redirectErrorStream(true).redirectOutput(log.toFile());
        Child child = new Child(name, pb.start(), log, dataDir, port);
        children.put(name, child);
        return child;
    }

    /** Up, and for a worker its model loaded; a few minutes allowed, as three JVMs start on a busy machine. */
    static void awaitHealthy(Child child) throws InterruptedException {
        long end = System.nanoTime() + Duration.ofMinutes(4).toNanos();
        while (System.nanoTime() < end) {
            assertThat(child.process().isAlive()).as(child.name() + " is running").isTrue();
            try {
                if (child.client().get("/actuator/health").body().contains("\"UP\"")) return;
            } catch (RuntimeException notYet) {
                // not listening yet
            }
            Thread.sleep(200);
        }
        throw new AssertionError(child.name() + " did not become healthy");
    }

    /** The events of one job on the api process's SSE, parsed as they arrive; ends when the server closes the stream. */
    static final class EventStream {
        private static final JsonNode END = Json.MAPPER.createObjectNode();
        private final BlockingQueue<JsonNode> arriving = new LinkedBlockingQueue<>();
        final List<JsonNode> seen = new ArrayList<>();
        private boolean ended;

        EventStream(int port, String path) throws Exception {
            HttpResponse<Stream<String>> sse = ApiClient.HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                    .header("Accept", "text/event-stream").timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofLines());
            assertThat(sse.statusCode()).isEqualTo(200);
            Thread.ofVirtual().start(() -> {
                try (Stream<String> lines = sse.body()) {
                    lines.filter(l -> l.startsWith("data:")).forEach(l -> arriving.add(Json.MAPPER.readTree(l.substring(5).strip())));
                } catch (RuntimeException e) {
                    // the connection broke: the test sees the stream end early
                } finally {
                    arriving.add(END);
                }
            });
        }

        /** The next event, or null when the stream ended or none came within the time. */
        JsonNode next(Duration within) throws InterruptedException {
            if (ended) return null;
            JsonNode e = arriving.poll(within.toMillis(), TimeUnit.MILLISECONDS);
            if (e == END) ended = true;
            if (e == null || e == END) return null;
            seen.add(e);
            return e;
        }

        /** Every event up to the end of the stream. */
        List<JsonNode> untilEnd(Duration within) throws InterruptedException {
            long end = System.nanoTime() + within.toNanos();
            while (!ended) {
                long left = end - System.nanoTime();
                assertThat(left).as("the event stream ends within " + within + "; so far " + types(seen)).isPositive();
                next(Duration.ofNanos(left));
            }
            return seen;
        }
    }

    static List<String> types(List<JsonNode> events) {
        return events.stream().map(e -> e.get("type").asString()).toList();
    }

    static boolean denoiseStep(JsonNode e) {
        return e.at("/data/stage").asString().equals("denoise") && e.at("/data/step").asInt() > 0;
    }

    byte[] object(String key) {
        try {
            return s3.read(PREFIX + key);
        } catch (NoSuchKeyException e) {
            throw new AssertionError("no object " + PREFIX + key + " in bucket " + s3.bucket() + "; the bucket holds " + s3.keys(""), e);
        }
    }

    String framesSha256(String id) {
        JsonNode manifest = Json.MAPPER.readTree(new String(object("jobs/" + id + "/request.json"), StandardCharsets.UTF_8));
        assertThat(manifest.has("frames_sha256")).as(manifest.toString()).isTrue();
        return manifest.get("frames_sha256").asString();
    }

    static String sha256(byte[] b) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }

    static String post(ApiClient client, String path, String json) {
        HttpResponse<String> created = client.post(path, json);
        assertThat(created.statusCode()).as(created.body()).isEqualTo(202);
        return ApiClient.json(created).get("id").asString();
    }

    /** The body of a response that has the status. */
    static JsonNode expect(HttpResponse<String> r, int status) {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
        return ApiClient.json(r);
    }

    JsonNode awaitTerminal(ApiClient client, String path, Duration within) throws InterruptedException {
        long end = System.nanoTime() + within.toNanos();
        JsonNode t = null;
        while (System.nanoTime() < end) {
            t = ApiClient.json(client.get(path));
            String s = t.path("status").asString();
            if (s.equals("completed") || s.equals("failed") || s.equals("cancelled")) return t;
            Thread.sleep(100);
        }
        throw new AssertionError(path + " did not finish within " + within + ": " + t);
    }

    @Test
    void anApiProcessAndWorkerProcessesShareTheQueueTheBucketAndTheLoras() throws Throwable {
        schema = PostgresJobStoreTest.Schema.create("kaze_multiprocess_test_");
        try {
            long started = System.nanoTime();
            // both at once: Flyway's lock lets one of them migrate the schema while the other waits
            Child api = startApi(), one = startWorker("worker-1");
            for (Child c : List.of(api, one)) awaitHealthy(c);
            HttpResponse<String> r = one.client().get("/v1/videos");   // KAZE_ROLE bound: a worker serves no API
            assertThat(r.statusCode()).as(r.body()).isEqualTo(404);
            assertThat(r.body()).contains("kaze.role=worker");
            ApiClient client = api.client();
            long t = System.nanoTime();
            System.out.printf("api and worker processes healthy in %.0f s%n", (t - started) / 1e9);
            Child survivor = aKilledWorkersRenderIsResumedByANewWorker(client, one);
            System.out.printf("kill, takeover and reference render in %.0f s%n", (System.nanoTime() - t) / 1e9);
            t = System.nanoTime();
            anUploadedLoraIsUsedByTheWorker(client, survivor);
            System.out.printf("LoRA upload and render in %.0f s%n", (System.nanoTime() - t) / 1e9);
            t = System.nanoTime();
            aTrainingsLoraLandsInTheBucketAndTheCatalog(client);
            System.out.printf("training in %.0f s%n", (System.nanoTime() - t) / 1e9);
        } catch (Throwable t) {
            for (Child c : children.values()) {
                List<String> lines = Files.exists(c.log()) ? Files.readAllLines(c.log()) : List.of();
                System.err.println("----- " + c.name() + " (" + (c.process().isAlive() ? "running" : "exit " + c.process().exitValue())
                        + "), last lines of " + c.log() + ":");
                lines.subList(Math.max(0, lines.size() - 80), lines.size()).forEach(System.err::println);
            }
            throw t;
        }
    }

    /** Part 1; returns the new worker, left running. */
    Child aKilledWorkersRenderIsResumedByANewWorker(ApiClient client, Child one) throws Exception {
        String id = post(client, "/v1/videos", REQUEST);
        EventStream events = new EventStream(client.port(), "/v1/videos/" + id + "/events");
        int step = 0;
        String claimedBy = null;
        long end = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        while (step < KILL_AT_STEP && System.nanoTime() < end) {
            JsonNode e = events.next(Duration.ofSeconds(5));
            if (e == null && events.ended) break;
            if (e == null) continue;
            if (e.get("type").asString().equals("started")) claimedBy = e.at("/data/worker_id").asString();
            if (denoiseStep(e)) step = e.at("/data/step").asInt();
        }
        assertThat(step).as("the render got past its first checkpoints; events: " + types(events.seen)).isBetween(KILL_AT_STEP, STEPS - 1);
        assertThat(claimedBy).isEqualTo(one.workerId());
        Child victim = one;
        victim.process().destroyForcibly().waitFor();   // SIGKILL: no shutdown hooks run, the job stays in progress
        long killed = System.nanoTime();
        Child survivor = startWorker("worker-2");   // a new process on an empty disk of its own
        awaitHealthy(survivor);
        assertThat(survivor.workerId()).isNotEqualTo(victim.workerId());
        JsonNode requeued = null;
        while (requeued == null && System.nanoTime() - killed < Duration.ofSeconds(240).toNanos()) {
            JsonNode e = events.next(Duration.ofSeconds(5));
            if (e != null && e.get("type").asString().equals("requeued")) requeued = e;
        }
        assertThat(requeued).as("requeued after the kill; events: " + types(events.seen)).isNotNull();
        System.out.printf("the job was requeued %.1f s after the kill (worker timeout %s)%n", (System.nanoTime() - killed) / 1e9, WORKER_TIMEOUT);
        int lastStepBefore = events.seen.stream().takeWhile(e -> !e.get("type").asString().equals("requeued"))
                .filter(MultiProcessTest::denoiseStep).mapToInt(e -> e.at("/data/step").asInt()).max().orElseThrow();

        List<JsonNode> all = events.untilEnd(Duration.ofSeconds(180));
        List<String> types = types(all);
        assertThat(types).as("the job is requeued once, resumed and completed").containsSubsequence("started", "requeued", "started", "resumed")
                .endsWith("completed");
        assertThat(types.stream().filter("requeued"::equals).count()).isEqualTo(1);
        List<JsonNode> started = all.stream().filter(e -> e.get("type").asString().equals("started")).toList();
        assertThat(started).extracting(e -> e.at("/data/worker_id").asString()).containsExactly(victim.workerId(), survivor.workerId());
        assertThat(requeued.at("/data/previous_worker_id").asString()).isEqualTo(victim.workerId());
        assertThat(survivor.process().isAlive()).as("the new worker completed it").isTrue();
        int resumedAt = all.stream().filter(e -> e.get("type").asString().equals("resumed")).findFirst().orElseThrow().at("/data/step").asInt();
        assertThat(resumedAt).as("resumed from a checkpoint").isGreaterThanOrEqualTo(CHECKPOINT_EVERY).isLessThanOrEqualTo(lastStepBefore)
                .matches(s -> s % CHECKPOINT_EVERY == 0, "a checkpoint step (a multiple of " + CHECKPOINT_EVERY + ")");
        int firstStepAfterResume = all.stream().dropWhile(e -> !e.get("type").asString().equals("resumed"))
                .filter(MultiProcessTest::denoiseStep).findFirst().orElseThrow().at("/data/step").asInt();
        assertThat(firstStepAfterResume).as("the steps go on after the checkpoint").isEqualTo(resumedAt + 1);
        assertThat(ApiClient.json(client.get("/v1/videos/" + id)).get("status").asString()).isEqualTo("completed");

        // the MP4 through the api process, which never rendered it: the bucket's object
        HttpResponse<byte[]> mp4 = client.sendBytes(client.request("/v1/videos/" + id + "/content").GET().build());
        assertThat(mp4.statusCode()).as(new String(mp4.body(), StandardCharsets.UTF_8)).isEqualTo(200);
        assertThat(mp4.headers().firstValue("Content-Type")).hasValue("video/mp4");
        assertThat(mp4.body()).isEqualTo(object("jobs/" + id + "/video.mp4"));

        // the same request rendered without interruption by the surviving worker: the same frames
        String reference = post(client, "/v1/videos", REQUEST);
        List<JsonNode> refEvents = new EventStream(client.port(), "/v1/videos/" + reference + "/events").untilEnd(Duration.ofSeconds(180));
        assertThat(types(refEvents)).doesNotContain("requeued", "resumed").endsWith("completed");
        assertThat(refEvents.stream().filter(e -> e.get("type").asString().equals("started")).findFirst().orElseThrow()
                .at("/data/worker_id").asString()).isEqualTo(survivor.workerId());
        assertThat(framesSha256(id)).isEqualTo(framesSha256(reference));
        return survivor;
    }

    /** Part 3a: a LoRA uploaded to the api process is rendered with by the worker. */
    void anUploadedLoraIsUsedByTheWorker(ApiClient client, Child worker) throws Exception {
        byte[] lora = LoraApiEndToEndTest.previewLora();
        JsonNode uploaded = expect(client.postMultipart("/v1/loras", Map.of("name", "mp-uploaded"), "file", "mp-uploaded.safetensors",
                "application/octet-stream", lora), 201);
        assertThat(uploaded.get("sha256").asString()).isEqualTo(sha256(lora));
        assertThat(object("loras/mp-uploaded.safetensors")).as("the upload is in the bucket").isEqualTo(lora);

        String id = post(client, "/v1/videos", "{\"prompt\":\"a cat in the rain\",\"size\":\"64x48\",\"frames\":9,\"steps\":3,\"seed\":5,"
                + "\"loras\":[{\"name\":\"mp-uploaded\",\"strength\":1}]}");
        JsonNode done = awaitTerminal(client, "/v1/videos/" + id, Duration.ofSeconds(120));
        assertThat(done.get("status").asString()).as(done.toString()).isEqualTo("completed");
        JsonNode manifest = Json.MAPPER.readTree(new String(object("jobs/" + id + "/request.json"), StandardCharsets.UTF_8));
        assertThat(manifest.at("/lora_sha256/mp-uploaded").asString()).as("the worker rendered with the uploaded file: " + manifest)
                .isEqualTo(sha256(lora));
        List<JsonNode> events = new EventStream(client.port(), "/v1/videos/" + id + "/events").untilEnd(Duration.ofSeconds(30));
        assertThat(events.stream().filter(e -> e.get("type").asString().equals("started")).findFirst().orElseThrow()
                .at("/data/worker_id").asString()).isEqualTo(worker.workerId());
    }

    /** Part 3b: a training queued on the api process runs on the worker; its LoRA lands in the bucket and the catalog. */
    void aTrainingsLoraLandsInTheBucketAndTheCatalog(ApiClient client) throws Exception {
        Path dataset = tmp.resolve("dataset");
        TestDatasets.write(dataset, true);
        String args = "{\"network_dim\": 4, \"network_alpha\": 4, \"learning_rate\": 0.01, \"max_train_steps\": 4, \"seed\": 7,"
                + " \"output_name\": \"mp-trained\"}";
        JsonNode created = expect(client.postDataset("/v1/trainings", TrainingApiEndToEndTest.zip(dataset, Map.of()),
                Map.of("args", args, "lora_name", "mp-trained")), 202);
        String id = created.get("id").asString();
        JsonNode done = awaitTerminal(client, "/v1/trainings/" + id, Duration.ofSeconds(180));
        assertThat(done.get("status").asString()).as(done.toString()).isEqualTo("completed");

        byte[] trained = object("loras/mp-trained.safetensors");
        JsonNode listed = null;
        for (JsonNode n : ApiClient.json(client.get("/v1/loras")).get("data"))
            if (n.get("name").asString().equals("mp-trained")) listed = n;
        assertThat(listed).as("the trained LoRA in the api process's catalog").isNotNull();
        assertThat(listed.get("sha256").asString()).isEqualTo(sha256(trained));
        assertThat(listed.get("size_bytes").asLong()).isEqualTo(trained.length);
    }
}
