package dev.kaze.api;

import dev.kaze.KazeApplication;
import dev.kaze.storage.S3TestServer;
import dev.kaze.training.TestDatasets;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;
import tools.jackson.databind.JsonNode;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * An API process and a worker process that share only the job database and an S3 bucket (each has its own data
 * directory, as on two machines): a dataset uploaded to the API is kept in the bucket and the API's unpacked copy goes;
 * the worker trains from the bucket and leaves nothing on its disk; the API lists and serves the run's files from the
 * bucket (the same bytes as the objects), registers a checkpoint it never had on disk, resumes a cancelled run whose
 * state only the bucket has, and deleting the trainings removes their objects. The bucket is checked with a plain S3
 * client.
 */
class TrainingStorageEndToEndTest {
    static final String PREFIX = "kaze-e2e";
    @TempDir static Path tmp;
    static S3TestServer server;
    static final String DB = "jdbc:h2:mem:training-storage-" + UUID.randomUUID() + ";DB_CLOSE_DELAY=-1";

    @BeforeAll
    static void startBucket() throws Exception {
        server = S3TestServer.start("kaze-training-e2e");
    }

    @AfterAll
    static void stopBucket() throws Exception {
        server.close();
    }

    /** A Kaze process in a role, with its own data directory; the LoRA catalog directory is shared. */
    static ConfigurableApplicationContext start(String role) {
        List<String> args = new ArrayList<>(List.of("--server.port=0", "--spring.datasource.url=" + DB,
                "--kaze.data-dir=" + tmp.resolve(role + "-data"), "--kaze.models.loras=" + tmp.resolve("loras"),
                "--kaze.auth.anonymous=true", "--kaze.role=" + role));
        for (String p : server.properties(PREFIX)) args.add("--" + p);
        return new SpringApplicationBuilder(KazeApplication.class).run(args.toArray(String[]::new));
    }

    /** The keys under this install's prefix + prefix, relative to it. */
    static List<String> objects(String prefix) { return server.keys(PREFIX + "/" + prefix); }

    static byte[] object(String key) { return server.read(PREFIX + "/" + key); }

    static HttpResponse<String> upload(ApiClient client, byte[] zip, Map<String, String> fields) {
        return client.postDataset("/v1/trainings", zip, fields);
    }

    static JsonNode await(ApiClient client, String id, String... statuses) throws InterruptedException {
        List<String> wanted = List.of(statuses);
        long end = System.nanoTime() + Duration.ofSeconds(240).toNanos();
        while (System.nanoTime() < end) {
            JsonNode t = ApiClient.json(client.get("/v1/trainings/" + id));
            if (wanted.contains(t.path("status").asString())) return t;
            Thread.sleep(50);
        }
        throw new AssertionError("training " + id + " did not reach " + wanted);
    }

    static List<String> entries(Path dir) throws Exception {
        if (!Files.exists(dir)) return List.of();
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).toList();
        }
    }

    @Test
    void theApiQueuesTheWorkerTrainsAndTheApiServesTheRunFromTheBucket() throws Exception {
        Path src = tmp.resolve("moving");
        TestDatasets.write(src, true);
        byte[] zip = TrainingApiEndToEndTest.zip(src, Map.of());
        String args = TrainingApiEndToEndTest.args(4, 2, "up").replace("}", ", \"sample_prompts\": [\"a square slides --w 32 --h 32 --f 5 --s 2 --d 1\"],"
                + " \"sample_every_n_steps\": 2}");
        try (ConfigurableApplicationContext api = start("api")) {
            ApiClient client = new ApiClient(Integer.parseInt(api.getEnvironment().getProperty("local.server.port")), "any");
            HttpResponse<String> created = upload(client, zip, Map.of("args", args, "lora_name", "bucket-style"));
            assertThat(created.statusCode()).as(created.body()).isEqualTo(202);
            String id = ApiClient.json(created).get("id").asString();

            // the dataset is in the bucket, with every file of the zip; the API kept no copy
            List<String> datasets = objects("datasets/");
            assertThat(datasets).isNotEmpty();
            String token = datasets.getFirst().substring(0, datasets.getFirst().indexOf('/'));
            List<String> expected = new ArrayList<>();
            try (Stream<Path> s = Files.walk(src)) {
                s.filter(Files::isRegularFile).forEach(p -> expected.add(token + "/" + src.relativize(p).toString().replace('\\', '/')));
            }
            assertThat(datasets).containsExactlyInAnyOrderElementsOf(expected);
            assertThat(object("datasets/" + token + "/dataset.toml")).isEqualTo(Files.readAllBytes(src.resolve("dataset.toml")));
            assertThat(entries(tmp.resolve("api-data/uploads"))).as("the API's unpacked copy and parts").isEmpty();

            // the worker, on its own disk, trains it (one worker for the rest: closing a process stops the shared Netty
            // resources the other process' server runs on)
            try (ConfigurableApplicationContext ignored = start("worker")) {
                afterTheUpload(client, id, zip);
            }
        }
    }

    void afterTheUpload(ApiClient client, String id, byte[] zip) throws Exception {
        Path apiData = tmp.resolve("api-data"), workerData = tmp.resolve("worker-data");
        JsonNode done = await(client, id, "completed", "failed", "cancelled");
        assertThat(done.get("status").asString()).as(done.toString()).isEqualTo("completed");
        String out = "jobs/" + id + "/output/";
        List<String> stored = objects(out);
        assertThat(stored).contains("up.safetensors", "up-step00000002.safetensors", "up.log.jsonl", "up-loss.png")
                .anyMatch(k -> k.startsWith("sample/up_") && k.endsWith(".mp4"));
        assertThat(apiData.resolve("jobs").resolve(id)).as("the API never had the run's files").doesNotExist();
        // the worker clears its copy right after it records the outcome the client just saw
        for (long end = System.nanoTime() + 10_000_000_000L; Files.exists(workerData.resolve("jobs").resolve(id)) && System.nanoTime() < end; )
            Thread.sleep(50);
        assertThat(workerData.resolve("jobs").resolve(id)).as("the worker keeps nothing once the run ended").doesNotExist();
        assertThat(entries(workerData.resolve("jobs"))).isEmpty();

        // the API lists and serves the run's files from the bucket
        List<String> listed = new ArrayList<>();
        ApiClient.json(client.get("/v1/trainings/" + id + "/files")).get("data").forEach(f -> {
            listed.add(f.get("name").asString());
            assertThat(f.get("url").asString()).isEqualTo("/v1/trainings/" + id + "/files/" + f.get("name").asString());
        });
        assertThat(listed).containsExactlyElementsOf(stored);
        HttpResponse<byte[]> lora = client.sendBytes(client.request("/v1/trainings/" + id + "/files/up.safetensors").GET().build());
        assertThat(lora.statusCode()).isEqualTo(200);
        assertThat(lora.headers().firstValue("Content-Type")).hasValue("application/octet-stream");
        assertThat(lora.headers().firstValue("Content-Disposition")).hasValue("attachment; filename=\"up.safetensors\"");
        assertThat(lora.body()).isEqualTo(object(out + "up.safetensors"));
        // a large LoRA download resumes: byte ranges from the bucket, and a revalidation that sends nothing
        HttpResponse<byte[]> part = client.sendBytes(client.request("/v1/trainings/" + id + "/files/up.safetensors")
                .header("Range", "bytes=8-71").GET().build());
        assertThat(part.statusCode()).isEqualTo(206);
        assertThat(part.headers().firstValue("Content-Range")).hasValue("bytes 8-71/" + lora.body().length);
        assertThat(part.body()).isEqualTo(Arrays.copyOfRange(lora.body(), 8, 72));
        String etag = lora.headers().firstValue("ETag").orElseThrow();
        assertThat(client.sendBytes(client.request("/v1/trainings/" + id + "/files/up.safetensors")
                .header("If-None-Match", etag).GET().build()).statusCode()).isEqualTo(304);
        HttpResponse<byte[]> png = client.sendBytes(client.request("/v1/trainings/" + id + "/files/up-loss.png").GET().build());
        assertThat(png.headers().firstValue("Content-Type")).hasValue("image/png");
        assertThat(png.body()).isEqualTo(object(out + "up-loss.png"));
        assertThat(client.get("/v1/trainings/" + id + "/files/up.log.jsonl").body().lines()).hasSize(4);
        HttpResponse<String> missing = client.get("/v1/trainings/" + id + "/files/nope.safetensors");
        assertThat(missing.statusCode()).isEqualTo(404);
        assertThat(missing.body()).contains("not-found", "nope.safetensors");
        assertThat(client.get("/v1/trainings/" + id + "/files/sample/../up.safetensors").statusCode()).isIn(400, 404);

        // the catalog has the LoRA; a checkpoint the API only has in the bucket can be registered too
        assertThat(client.get("/v1/loras/bucket-style").statusCode()).isEqualTo(200);
        HttpResponse<String> registered = client.post("/v1/trainings/" + id + "/loras",
                "{\"file\":\"up-step00000002.safetensors\",\"name\":\"bucket-step2\"}");
        assertThat(registered.statusCode()).as(registered.body()).isEqualTo(201);
        assertThat(client.get("/v1/loras/bucket-step2").statusCode()).isEqualTo(200);

        // a run cancelled on the worker resumes as a new training: the API sees its state in the bucket
        HttpResponse<String> longRun = upload(client, zip, Map.of("args", TrainingApiEndToEndTest.args(400, 0, "long"), "lora_name", "bucket-long"));
        assertThat(longRun.statusCode()).as(longRun.body()).isEqualTo(202);
        String longId = ApiClient.json(longRun).get("id").asString();
        long end = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        while (System.nanoTime() < end && ApiClient.json(client.get("/v1/trainings/" + longId)).path("step").asInt() < 2) Thread.sleep(20);
        assertThat(client.post("/v1/trainings/" + longId + "/cancel", "").statusCode()).isEqualTo(200);
        assertThat(await(client, longId, "cancelled", "completed", "failed").get("status").asString()).isEqualTo("cancelled");
        assertThat(objects("jobs/" + longId + "/output/")).anyMatch(k -> k.startsWith("long-state/"));
        HttpResponse<String> resumed = client.post("/v1/trainings/" + longId + "/resume", "");
        assertThat(resumed.statusCode()).as(resumed.body()).isEqualTo(202);
        String resumedId = ApiClient.json(resumed).get("id").asString();
        long until = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        JsonNode r;
        do {
            r = ApiClient.json(client.get("/v1/trainings/" + resumedId));
            Thread.sleep(20);
        } while (System.nanoTime() < until && !(r.path("stage").asString().equals("train") && r.path("step").asInt() > 0));
        assertThat(client.post("/v1/trainings/" + resumedId + "/cancel", "").statusCode()).isEqualTo(200);
        JsonNode stopped = await(client, resumedId, "cancelled", "completed", "failed");
        assertThat(stopped.get("status").asString()).as(stopped.toString()).isIn("cancelled", "completed");
        ApiClient.Frames frames = client.websocket("/v1/trainings/" + resumedId + "/events", Duration.ofSeconds(10));
        assertThat(frames.messages()).anyMatch(m -> m.path("type").asString().equals("resumed"));

        // deleting the trainings removes their objects, the uploaded datasets with them
        for (String t : List.of(id, resumedId, longId))
            assertThat(client.send(client.request("/v1/trainings/" + t).DELETE().build()).statusCode()).isEqualTo(200);
        assertThat(objects("jobs/")).isEmpty();
        assertThat(objects("datasets/")).isEmpty();
    }
}
