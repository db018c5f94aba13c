package dev.kaze.api;

import dev.kaze.tensor.SafetensorsFile;
import dev.kaze.training.TestDatasets;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import tools.jackson.databind.JsonNode;

import javax.imageio.ImageIO;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * LoRA training through the real server on the preview model: a generated dataset (images and a
 * clip with captions, musubi's TOML) uploaded as a zip trains on the CPU, streams its progress,
 * registers its LoRA, and the LoRA changes a video at once; a run cancelled and resumed ends with
 * the same weights as one run straight through; bad datasets and arguments are refused with 400
 * naming the field before anything is queued, and leave nothing behind.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "spring.datasource.url=jdbc:h2:mem:trainingapi;DB_CLOSE_DELAY=-1",
        "kaze.data-dir=" + TrainingApiEndToEndTest.DATA,
        "kaze.models.loras=" + TrainingApiEndToEndTest.DATA + "/loras",
        "kaze.training.datasets-root=" + TrainingApiEndToEndTest.DATA + "/datasets",
        "kaze.training.archive-max-bytes=4MB",
        "kaze.auth.anonymous=false",
        "kaze.webhooks.secret=" + VideoApiEndToEndTest.SECRET,
        "kaze.auth.keys[0].id=alice", "kaze.auth.keys[0].key=alice-key",
        "kaze.auth.keys[1].id=bob", "kaze.auth.keys[1].key=bob-key",
})
class TrainingApiEndToEndTest {
    static final String DATA = "target/test-data/training-api";
    static final Path ROOT = Path.of(DATA, "datasets");
    static final String TOML = TestDatasets.TOML;

    @LocalServerPort int port;

    ApiClient alice() { return new ApiClient(port, "alice-key"); }

    @BeforeAll
    static void clean() throws IOException {
        Path data = Path.of(DATA);
        if (Files.exists(data)) try (Stream<Path> s = Files.walk(data)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) Files.delete(p);
        }
        Files.createDirectories(ROOT);
        TestDatasets.write(ROOT.resolve("moving"), true);
    }

    /** A zip of every file under dir, plus extra raw entries (name → bytes). */
    static byte[] zip(Path dir, Map<String, byte[]> extra) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (ZipOutputStream zip = new ZipOutputStream(out)) {
            if (dir != null) try (Stream<Path> s = Files.walk(dir)) {
                for (Path p : s.filter(Files::isRegularFile).sorted().toList()) {
                    zip.putNextEntry(new ZipEntry(dir.relativize(p).toString().replace('\\', '/')));
                    zip.write(Files.readAllBytes(p));
                    zip.closeEntry();
                }
            }
            for (var e : extra.entrySet()) {
                zip.putNextEntry(new ZipEntry(e.getKey()));
                zip.write(e.getValue());
                zip.closeEntry();
            }
        }
        return out.toByteArray();
    }

    HttpResponse<String> upload(byte[] zip, Map<String, String> fields) { return alice().postDataset("/v1/trainings", zip, fields); }

    static String args(int steps, int saveEvery, String outputName) {
        return "{\"network_dim\": 4, \"network_alpha\": 4, \"learning_rate\": 0.01, \"max_train_steps\": " + steps
                + ", \"seed\": 7, \"save_every_n_steps\": " + saveEvery + ", \"output_name\": \"" + outputName + "\"}";
    }

    JsonNode awaitTraining(String id) throws InterruptedException {
        long end = System.nanoTime() + Duration.ofSeconds(240).toNanos();
        while (System.nanoTime() < end) {
            JsonNode t = ApiClient.json(alice().get("/v1/trainings/" + id));
            String s = t.path("status").asString();
            if (s.equals("completed") || s.equals("failed") || s.equals("cancelled")) return t;
            Thread.sleep(50);
        }
        throw new AssertionError("training " + id + " did not finish");
    }

    @Test
    void uploadedDatasetTrainsRegistersItsLoraAndTheLoraChangesAVideo() throws Exception {
        try (WebhookReceiver hooks = new WebhookReceiver(VideoApiEndToEndTest.SECRET)) {
            trainFromUpload(hooks);
        }
    }

    void trainFromUpload(WebhookReceiver hooks) throws Exception {
        String hookUrl = hooks.url();
        byte[] zip = zip(ROOT.resolve("moving"), Map.of());
        String withSamples = args(24, 12, "upload").replace("}", ", \"sample_prompts\": [\"a square slides --w 32 --h 32 --f 5 --s 2 --d 1\"],"
                + " \"sample_every_n_steps\": 12}");
        HttpResponse<String> created = upload(zip, Map.of("args", withSamples, "lora_name", "e2e-style",
                "webhook", "{\"url\":\"" + hookUrl + "\",\"events\":[\"checkpoint\",\"completed\"]}", "metadata", "{\"run\":1}"));
        assertThat(created.statusCode()).as(created.body()).isEqualTo(202);
        JsonNode job = ApiClient.json(created);
        String id = job.get("id").asString();
        assertThat(id).startsWith("train_");
        assertThat(job.get("object").asString()).isEqualTo("training");
        assertThat(created.headers().firstValue("Location")).hasValue("/v1/trainings/" + id);

        JsonNode done = awaitTraining(id);
        assertThat(done.get("status").asString()).as(done.toString()).isEqualTo("completed");
        assertThat(done.path("result").path("steps").asInt()).isEqualTo(24);

        // the event log over WebSocket: every step with its loss, the checkpoints, the registered LoRA
        ApiClient.Frames frames = alice().websocket("/v1/trainings/" + id + "/events", Duration.ofSeconds(10));
        List<Double> losses = new ArrayList<>();
        List<String> checkpoints = new ArrayList<>(), samples = new ArrayList<>();
        boolean registered = false;
        for (JsonNode m : frames.messages()) {
            JsonNode d = m.path("data");
            String type = m.path("type").asString();
            if (type.equals("progress") && d.path("stage").asString().equals("train")) {
                assertThat(d.has("avg_loss") && d.has("learning_rate") && d.has("epoch") && d.has("eta_seconds")).as(d.toString()).isTrue();
                losses.add(d.get("loss").asDouble());
            }
            if (type.equals("checkpoint")) checkpoints.add(d.path("file").asString());
            if (type.equals("sample")) samples.add(d.path("file").asString());
            if (type.equals("lora")) registered = d.path("registered").asBoolean();
        }
        assertThat(losses).hasSize(24);
        double first = losses.subList(0, 6).stream().mapToDouble(Double::doubleValue).average().orElseThrow();
        double last = losses.subList(18, 24).stream().mapToDouble(Double::doubleValue).average().orElseThrow();
        assertThat(last).as("loss falls: first six steps %s, last six %s", first, last).isLessThan(first);
        assertThat(checkpoints).contains("upload-step00000012.safetensors", "upload.safetensors");
        assertThat(registered).isTrue();
        assertThat(samples).hasSize(2).allMatch(f -> f.startsWith("sample/upload_") && f.endsWith("_1.mp4"));

        // the same log over webhooks: the chosen event types only, signed
        List<String> hookTypes = new ArrayList<>();
        for (WebhookReceiver.Delivery d; (d = hooks.poll(hookTypes.size() < 3 ? 30 : 1)) != null; ) {
            JsonNode h = ApiClient.JSON.readTree(d.body());
            hookTypes.add(h.get("type").asString());
            assertThat(h.at("/data/object").asString()).isEqualTo("training");
            assertThat(h.at("/data/metadata/run").asInt()).isEqualTo(1);
            if (h.get("type").asString().equals("training.completed")) assertThat(h.at("/data/files_url").asString()).endsWith(id + "/files");
        }
        assertThat(hookTypes).containsExactlyInAnyOrder("training.checkpoint", "training.checkpoint", "training.checkpoint",
                "training.checkpoint", "training.completed");

        // and over SSE
        HttpResponse<String> sse = alice().send(alice().request("/v1/trainings/" + id + "/events").header("Accept", "text/event-stream").GET().build());
        assertThat(sse.body()).contains("event:checkpoint", "event:completed", "\"training_id\":\"" + id + "\"");

        // the files: the LoRA in musubi's format, downloadable
        JsonNode files = ApiClient.json(alice().get("/v1/trainings/" + id + "/files"));
        List<String> names = new ArrayList<>();
        files.get("data").forEach(f -> names.add(f.get("name").asString()));
        assertThat(names).contains("upload.safetensors", "upload-step00000012.safetensors", "upload.log.jsonl", "upload-loss.png");
        assertThat(names).containsAll(samples);
        String log = alice().get("/v1/trainings/" + id + "/files/upload.log.jsonl").body();
        assertThat(log.lines().count()).isEqualTo(24);
        assertThat(ApiClient.JSON.readTree(log.lines().findFirst().orElseThrow()).get("step").asInt()).isEqualTo(1);
        HttpResponse<byte[]> png = alice().sendBytes(alice().request("/v1/trainings/" + id + "/files/upload-loss.png").GET().build());
        assertThat(png.headers().firstValue("Content-Type")).hasValue("image/png");
        assertThat(ImageIO.read(new java.io.ByteArrayInputStream(png.body()))).isNotNull();
        HttpResponse<byte[]> lora = alice().sendBytes(alice().request("/v1/trainings/" + id + "/files/upload.safetensors").GET().build());
        assertThat(lora.statusCode()).isEqualTo(200);
        Path downloaded = Files.createTempFile("trained", ".safetensors");
        Files.write(downloaded, lora.body());
        try (SafetensorsFile f = SafetensorsFile.open(downloaded)) {
            assertThat(f.entries().keySet()).contains("lora_unet_blocks_0_self_attn_q.lora_down.weight",
                    "lora_unet_blocks_0_self_attn_q.lora_up.weight", "lora_unet_blocks_0_self_attn_q.alpha");
            assertThat(f.metadata()).containsKey("ss_network_dim");
        } finally {
            Files.delete(downloaded);
        }
        assertThat(alice().get("/v1/trainings/" + id + "/files/../../../etc/passwd").statusCode()).isIn(400, 404);

        // the catalog has it at once, and a video with it differs from one without
        assertThat(alice().get("/v1/loras/e2e-style").statusCode()).isEqualTo(200);
        String plain = "{\"prompt\":\"a square\",\"size\":\"32x32\",\"frames\":5,\"steps\":2,\"seed\":3,\"loras\":[]}";
        String styled = "{\"prompt\":\"a square\",\"size\":\"32x32\",\"frames\":5,\"steps\":2,\"seed\":3,\"loras\":[{\"name\":\"e2e-style\",\"strength\":1.0}]}";
        String a = ApiClient.json(alice().post("/v1/videos", plain)).get("id").asString();
        String b = ApiClient.json(alice().post("/v1/videos", styled)).get("id").asString();
        assertThat(alice().awaitTerminal(a, Duration.ofSeconds(120)).get("status").asString()).isEqualTo("completed");
        assertThat(alice().awaitTerminal(b, Duration.ofSeconds(120)).get("status").asString()).isEqualTo("completed");
        JsonNode ma = ApiClient.JSON.readTree(Files.readString(Path.of(DATA, "jobs", a, "request.json")));
        JsonNode mb = ApiClient.JSON.readTree(Files.readString(Path.of(DATA, "jobs", b, "request.json")));
        assertThat(mb.get("frames_sha256").asString()).isNotEqualTo(ma.get("frames_sha256").asString());

        // other owners and the videos API do not see it
        assertThat(new ApiClient(port, "bob-key").get("/v1/trainings/" + id).statusCode()).isEqualTo(404);
        assertThat(alice().get("/v1/videos/" + id).statusCode()).isEqualTo(404);
        JsonNode videos = ApiClient.json(alice().get("/v1/videos?limit=100"));
        videos.get("data").forEach(v -> assertThat(v.get("id").asString()).startsWith("video_"));
    }

    @Test
    void aCancelledRunResumedEndsWithTheSameWeightsAsAStraightRun() throws Exception {
        String straight = "{\"dataset\":\"moving\",\"lora_name\":\"straight\",\"args\":" + args(30, 0, "run") + "}";
        HttpResponse<String> s = alice().post("/v1/trainings", straight);
        assertThat(s.statusCode()).as(s.body()).isEqualTo(202);
        String straightId = ApiClient.json(s).get("id").asString();
        assertThat(awaitTraining(straightId).get("status").asString()).isEqualTo("completed");

        String parted = "{\"dataset\":\"moving\",\"lora_name\":\"parted\",\"args\":" + args(30, 0, "run") + "}";
        String partId = ApiClient.json(alice().post("/v1/trainings", parted)).get("id").asString();
        long end = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        while (System.nanoTime() < end) {
            JsonNode t = ApiClient.json(alice().get("/v1/trainings/" + partId));
            if (t.path("stage").asString().equals("train") && t.path("step").asInt() >= 3) break;
            Thread.sleep(5);
        }
        assertThat(alice().post("/v1/trainings/" + partId + "/cancel", "").statusCode()).isEqualTo(200);
        JsonNode cancelled = awaitTraining(partId);
        assertThat(cancelled.get("status").asString()).isEqualTo("cancelled");
        int stoppedAt = cancelled.get("step").asInt();
        assertThat(stoppedAt).isBetween(3, 29);

        HttpResponse<String> resumed = alice().post("/v1/trainings/" + partId + "/resume", "");
        assertThat(resumed.statusCode()).as(resumed.body()).isEqualTo(202);
        String resumedId = ApiClient.json(resumed).get("id").asString();
        JsonNode finished = awaitTraining(resumedId);
        assertThat(finished.get("status").asString()).as(finished.toString()).isEqualTo("completed");
        assertThat(finished.get("resumed_from").asString()).isEqualTo(partId);

        Path a = Path.of(DATA, "jobs", straightId, "output", "run.safetensors");
        Path b = Path.of(DATA, "jobs", resumedId, "output", "run.safetensors");
        try (SafetensorsFile fa = SafetensorsFile.open(a); SafetensorsFile fb = SafetensorsFile.open(b)) {
            assertThat(fb.entries().keySet()).isEqualTo(fa.entries().keySet());
            for (String k : fa.entries().keySet())
                assertThat(fb.bytes(k).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE))
                        .as(k).isEqualTo(fa.bytes(k).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
        }
        assertThat(alice().get("/v1/loras/parted").statusCode()).isEqualTo(200);
    }

    /** The problem's errors as field → message. */
    static Map<String, String> errors(HttpResponse<String> r) {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(400);
        assertThat(r.headers().firstValue("Content-Type").orElse("")).startsWith("application/problem+json");
        Map<String, String> out = new java.util.LinkedHashMap<>();
        ApiClient.json(r).path("errors").forEach(e -> out.put(e.get("field").asString(), e.get("message").asString()));
        return out;
    }

    @Test
    void badDatasetsAndArgumentsAreRefusedBeforeAnythingIsQueued() throws Exception {
        Path good = ROOT.resolve("moving");
        // a zip entry climbing out of the archive
        assertThat(errors(upload(zip(good, Map.of("../escaped.txt", "x".getBytes())), Map.of("args", args(2, 0, "x")))))
                .containsKey("dataset");
        assertThat(Path.of(DATA, "escaped.txt")).doesNotExist();
        // a TOML with an unknown key names the table and the key
        Map<String, String> toml = errors(upload(zip(good, Map.of()), Map.of("args", args(2, 0, "x"),
                "dataset_config", TOML.replace("frame_extraction = \"head\"", "frame_extraction = \"head\"\nbogus_key = 1"))));
        assertThat(toml).containsKey("dataset_config.datasets[1].bogus_key");
        // a wrong type
        assertThat(errors(upload(zip(good, Map.of()), Map.of("args", args(2, 0, "x"),
                "dataset_config", TOML.replace("batch_size = 1", "batch_size = \"one\"")))).keySet())
                .anyMatch(k -> k.startsWith("dataset_config") && k.endsWith("batch_size"));
        // a dataset outside the datasets root, and one that does not exist
        assertThat(errors(alice().post("/v1/trainings", "{\"dataset\":\"../loras\",\"args\":" + args(2, 0, "x") + "}"))).containsKey("dataset");
        assertThat(errors(alice().post("/v1/trainings", "{\"dataset\":\"/etc\",\"args\":" + args(2, 0, "x") + "}"))).containsKey("dataset");
        assertThat(errors(alice().post("/v1/trainings", "{\"dataset\":\"missing\",\"args\":" + args(2, 0, "x") + "}"))).containsKey("dataset");
        // arguments: wrong types and unknown names, all listed
        Map<String, String> bad = errors(alice().post("/v1/trainings",
                "{\"dataset\":\"moving\",\"args\":{\"learning_rate\":\"fast\",\"network_dimm\":4}}"));
        assertThat(bad).containsKeys("args.learning_rate", "args.network_dimm");
        // unreadable media
        Path broken = ROOT.resolve("broken");
        TestDatasets.write(broken, true);
        Files.write(broken.resolve("images/square.png"), new byte[]{1, 2, 3, 4});
        assertThat(errors(alice().post("/v1/trainings", "{\"dataset\":\"broken\",\"args\":" + args(2, 0, "x") + "}")).get("dataset"))
                .contains("square.png");
        // a missing caption names the media file and the caption expected
        Path uncaptioned = ROOT.resolve("uncaptioned");
        TestDatasets.write(uncaptioned, true);
        Files.delete(uncaptioned.resolve("videos/slide.txt"));
        assertThat(errors(alice().post("/v1/trainings", "{\"dataset\":\"uncaptioned\",\"args\":" + args(2, 0, "x") + "}")).get("dataset"))
                .contains("slide.mp4", "slide.txt");
        // a config pointing outside the dataset's root
        Map<String, String> escape = errors(upload(zip(good, Map.of()), Map.of("args", args(2, 0, "x"),
                "dataset_config", TOML.replace("image_directory = \"images\"", "image_directory = \"/etc\""))));
        assertThat(escape.keySet()).anyMatch(k -> k.startsWith("dataset_config.datasets[0]") && k.endsWith("image_directory"));
        // a bomb: 10 MB of zeros under the 4 MB unpack limit, and an absolute entry name
        assertThat(errors(upload(zip(good, Map.of("zeros.bin", new byte[10 << 20])), Map.of("args", args(2, 0, "x"))))).containsKey("dataset");
        assertThat(errors(upload(zip(good, Map.of("/abs.txt", "x".getBytes())), Map.of("args", args(2, 0, "x"))))).containsKey("dataset");
        assertThat(Path.of("/abs.txt")).doesNotExist();
        // malformed requests
        assertThat(errors(upload(zip(good, Map.of()), Map.of("args", "{not json")))).containsKey("args");
        assertThat(errors(upload(zip(good, Map.of()), Map.of("args", args(2, 0, "x"), "bogus", "1")))).containsKey("bogus");
        assertThat(errors(upload("not a zip at all".getBytes(), Map.of("args", args(2, 0, "x"))))).containsKey("dataset");
        assertThat(errors(alice().post("/v1/trainings", "{\"args\":{}}"))).containsKey("dataset");
        assertThat(errors(alice().post("/v1/trainings", "{\"dataset\":\"moving\",\"lora_name\":\"../x\",\"priority\":99}")))
                .containsKeys("lora_name", "priority");
        assertThat(alice().send(alice().request("/v1/trainings").header("Content-Type", "text/plain")
                .POST(HttpRequest.BodyPublishers.ofString("x")).build()).statusCode()).isEqualTo(415);
        assertThat(alice().get("/v1/trainings/train_nope").statusCode()).isEqualTo(404);
        // nothing was queued, and no upload is left behind
        assertThat(ApiClient.json(alice().get("/v1/trainings")).get("data").findValues("lora_name").stream().map(JsonNode::asString))
                .doesNotContain("x");
        try (Stream<Path> s = Files.list(Path.of(DATA, "uploads"))) {
            assertThat(s.toList()).isEmpty();
        }
    }

    /** Every name on the wire is snake_case: the training object, every event type's data, files, list pages, LoRAs, problems. */
    @Test
    void everyNameOnTheWireIsSnakeCase() throws Exception {
        String args = args(4, 2, "snake").replace("}", ", \"sample_prompts\": [\"a square --w 32 --h 32 --f 1 --s 1 --d 1\"],"
                + " \"sample_every_n_steps\": 2}");
        HttpResponse<String> created = alice().post("/v1/trainings",
                "{\"dataset\":\"moving\",\"lora_name\":\"snake-case\",\"metadata\":{\"callerKey\":1},\"args\":" + args + "}");
        assertThat(created.statusCode()).as(created.body()).isEqualTo(202);
        WireNames.assertSnakeCase("a created training", ApiClient.json(created));
        String id = ApiClient.json(created).get("id").asString();
        JsonNode done = awaitTraining(id);
        assertThat(done.get("status").asString()).as(done.toString()).isEqualTo("completed");
        WireNames.assertSnakeCase("a completed training", done);
        ApiClient.Frames frames = alice().websocket("/v1/trainings/" + id + "/events", Duration.ofSeconds(10));
        assertThat(frames.messages().stream().map(e -> e.get("type").asString()))
                .contains("queued", "started", "progress", "checkpoint", "sample", "lora", "completed");
        WireNames.assertSnakeCase("the events of a training", frames.messages());
        WireNames.assertSnakeCase("a training's files", ApiClient.json(alice().get("/v1/trainings/" + id + "/files")));
        WireNames.assertSnakeCase("a list page of trainings", ApiClient.json(alice().get("/v1/trainings?limit=2")));
        WireNames.assertSnakeCase("a LoRA", ApiClient.json(alice().get("/v1/loras/snake-case")));
        WireNames.assertSnakeCase("the LoRA catalog", ApiClient.json(alice().get("/v1/loras")));
        HttpResponse<String> registered = alice().post("/v1/trainings/" + id + "/loras",
                "{\"file\":\"snake-step00000002.safetensors\",\"name\":\"snake-step2\"}");
        assertThat(registered.statusCode()).as(registered.body()).isEqualTo(201);
        WireNames.assertSnakeCase("a registered checkpoint", ApiClient.json(registered));
        WireNames.assertSnakeCase("a training validation problem", ApiClient.json(alice().post("/v1/trainings",
                "{\"dataset\":\"moving\",\"args\":{\"learning_rate\":\"fast\"}}")));
        WireNames.assertSnakeCase("a deleted training", ApiClient.json(alice().send(alice().request("/v1/trainings/" + id).DELETE().build())));
    }

    /** A zip of every file under dir, each entry under folder/ (as {@code zip -r folder.zip folder} makes it). */
    static byte[] zipInFolder(Path dir, String folder) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (ZipOutputStream zip = new ZipOutputStream(out)) {
            zip.putNextEntry(new ZipEntry(folder + "/"));
            zip.closeEntry();
            try (Stream<Path> s = Files.walk(dir)) {
                for (Path p : s.filter(Files::isRegularFile).sorted().toList()) {
                    zip.putNextEntry(new ZipEntry(folder + "/" + dir.relativize(p).toString().replace('\\', '/')));
                    zip.write(Files.readAllBytes(p));
                    zip.closeEntry();
                }
            }
        }
        return out.toByteArray();
    }

    /**
     * What a user met: a dataset zipped in its folder, the author's musubi options pasted as they are (task, sdpa, data
     * loader workers, log_with), no output_name, a held-out validation dataset. It trains; the notes say what had no
     * effect, in the events and the training object; files and the LoRA's title are named after lora_name; preparation
     * has its own counters; validation losses arrive at the cadence asked; TensorBoard files are among the files; and no
     * event, object or file listing shows the server's paths.
     */
    @Test
    void aDatasetZippedInItsFolderWithTheAuthorsOptionsTrainsValidatesAndShowsNoServerPath() throws Exception {
        Path ghibli = Path.of(DATA, "ghibli-src", "ghibli");
        TestDatasets.write(ghibli, false);
        Files.createDirectories(ghibli.resolve("held"));
        TestDatasets.image(ghibli.resolve("held/held.png"), 1);
        Files.writeString(ghibli.resolve("held/held.txt"), "held-out stripes");
        Files.writeString(ghibli.resolve("dataset.toml"), TOML.replace("target_frames = [9]", "target_frames = [9, 10]")
                + "\n[[datasets]]\nimage_directory = \"held\"\ncache_directory = \"cache/held\"\nvalidation = true\n");
        String pasted = "{\"task\": \"t2v-14B\", \"sdpa\": true, \"max_data_loader_n_workers\": 2, \"persistent_data_loader_workers\": true,"
                + " \"log_with\": \"tensorboard\", \"network_module\": \"networks.lora_wan\", \"network_dim\": 4, \"network_alpha\": 4,"
                + " \"learning_rate\": 0.01, \"max_train_steps\": 6, \"seed\": 7, \"timestep_sampling\": \"shift\","
                + " \"discrete_flow_shift\": 3.0, \"validate_every_n_steps\": 3}";
        HttpResponse<String> created = upload(zipInFolder(ghibli, "ghibli"), Map.of("args", pasted, "lora_name", "ghibli-style"));
        assertThat(created.statusCode()).as(created.body()).isEqualTo(202);
        String id = ApiClient.json(created).get("id").asString();
        JsonNode done = awaitTraining(id);
        assertThat(done.get("status").asString()).as(done.toString()).isEqualTo("completed");
        assertThat(done.path("result").path("lora_file").asString()).isEqualTo("ghibli-style.safetensors");

        // notes: in the object as in the event stream
        List<String> notes = new ArrayList<>();
        done.get("notes").forEach(n -> notes.add(n.asString()));
        for (String option : List.of("task", "sdpa", "max_data_loader_n_workers", "persistent_data_loader_workers", "log_with"))
            assertThat(notes).as(option).anyMatch(n -> n.startsWith(option + " has no effect here"));

        ApiClient.Frames frames = alice().websocket("/v1/trainings/" + id + "/events", Duration.ofSeconds(10));
        List<Integer> validated = new ArrayList<>(), trainSteps = new ArrayList<>();
        boolean warned = false, preparedSeparately = false;
        for (JsonNode m : frames.messages()) {
            JsonNode d = m.path("data");
            switch (m.path("type").asString()) {
                case "notes" -> assertThat(d.get("notes")).isEqualTo(done.get("notes"));
                case "dataset_warnings" -> warned = true;
                case "validation" -> {
                    validated.add(d.get("step").asInt());
                    assertThat(d.get("validation_loss").asDouble()).isPositive();
                }
                case "progress" -> {
                    if (d.path("stage").asString().equals("prepare") && d.has("preparation")) {
                        preparedSeparately = true;
                        assertThat(d.get("step").asInt()).as("no training step during preparation: %s", d).isZero();
                        assertThat(d.get("total_steps").asInt()).as(d.toString()).isEqualTo(6);
                        assertThat(d.at("/preparation/done").asInt()).isBetween(1, d.at("/preparation/total").asInt());
                    }
                    if (d.path("stage").asString().equals("train")) {
                        trainSteps.add(d.get("step").asInt());
                        assertThat(d.get("total_steps").asInt()).isEqualTo(6);
                    }
                }
                default -> { }
            }
        }
        assertThat(warned).as("target_frames [9, 10] is rounded, with a warning").isTrue();
        assertThat(preparedSeparately).isTrue();
        assertThat(trainSteps).containsExactly(1, 2, 3, 4, 5, 6);
        assertThat(validated).containsExactly(3, 6);

        // files named after lora_name, TensorBoard beside the log, the LoRA titled after lora_name
        JsonNode files = ApiClient.json(alice().get("/v1/trainings/" + id + "/files"));
        List<String> names = new ArrayList<>();
        files.get("data").forEach(f -> names.add(f.get("name").asString()));
        assertThat(names).contains("ghibli-style.safetensors", "ghibli-style.log.jsonl", "ghibli-style-loss.png");
        assertThat(names).anyMatch(n -> n.startsWith("events.out.tfevents."));
        HttpResponse<byte[]> lora = alice().sendBytes(alice().request("/v1/trainings/" + id + "/files/ghibli-style.safetensors").GET().build());
        Path downloaded = Files.createTempFile("ghibli", ".safetensors");
        Files.write(downloaded, lora.body());
        try (SafetensorsFile f = SafetensorsFile.open(downloaded)) {
            assertThat(f.metadata()).containsEntry("ss_output_name", "ghibli-style").containsEntry("modelspec.title", "ghibli-style")
                    .containsKeys("sshs_model_hash", "sshs_legacy_hash");
        } finally {
            Files.delete(downloaded);
        }

        // no server path anywhere a client can see
        String dataDir = Path.of(DATA).toAbsolutePath().normalize().toString();
        List<String> seen = new ArrayList<>();
        seen.add(done.toString());
        seen.add(files.toString());
        seen.add(ApiClient.json(alice().get("/v1/trainings?limit=100")).toString());
        frames.messages().forEach(m -> seen.add(m.toString()));
        seen.add(alice().send(alice().request("/v1/trainings/" + id + "/events").header("Accept", "text/event-stream").GET().build()).body());
        for (String text : seen) assertThat(text).doesNotContain(dataDir).doesNotContain(DATA);
    }

    /** An author's absolute media path (from their machine) is reported under the config key, with what to write instead. */
    @Test
    void anAuthorsAbsolutePathInTheConfigIsReportedUnderItsKey() throws Exception {
        Path good = ROOT.resolve("moving");
        for (String path : List.of("/home/x/ghibli/images", "C:/Users/x/ghibli/images")) {
            Map<String, String> e = errors(upload(zip(good, Map.of()), Map.of("args", args(2, 0, "x"),
                    "dataset_config", TOML.replace("image_directory = \"images\"", "image_directory = \"" + path + "\""))));
            assertThat(e).as(path).containsKey("dataset_config.datasets[0].image_directory");
            assertThat(e.get("dataset_config.datasets[0].image_directory")).as(path).contains("relative to the dataset")
                    .doesNotContain(Path.of(DATA).toAbsolutePath().toString());
        }
        // validation asked for without a validation dataset
        assertThat(errors(alice().post("/v1/trainings", "{\"dataset\":\"moving\",\"args\":{\"max_train_steps\":2,\"validate_every_n_steps\":1}}")))
                .containsKey("args.validate_every_n_steps");
        // an unknown option: once, short, pointing to the docs
        Map<String, String> unknown = errors(alice().post("/v1/trainings", "{\"dataset\":\"moving\",\"args\":{\"network_dimm\":4,\"sdpa\":true}}"));
        assertThat(unknown).containsOnlyKeys("args.network_dimm");
        assertThat(unknown.get("args.network_dimm")).contains("network_dim", "docs/training.md").hasSizeLessThan(200);
    }

    /**
     * The author's memory and precision options are used, not only recorded: the run trains over a DiT built for it
     * (float8 e4m3 block Linears, one block swapped) with 8-bit AdamW, its notes say what each option did, and the
     * LoRA's metadata records them.
     */
    @Test
    void theAuthorsMemoryOptionsReallyShapeTheRun() throws Exception {
        String options = "{\"network_dim\": 4, \"network_alpha\": 4, \"learning_rate\": 0.01, \"max_train_steps\": 3, \"seed\": 7,"
                + " \"output_name\": \"mem\", \"fp8_base\": true, \"fp8_scaled\": true, \"blocks_to_swap\": 1,"
                + " \"gradient_checkpointing\": true, \"optimizer_type\": \"adamw8bit\", \"mixed_precision\": \"bf16\"}";
        HttpResponse<String> created = alice().post("/v1/trainings", "{\"dataset\":\"moving\",\"lora_name\":\"mem\",\"args\":" + options + "}");
        assertThat(created.statusCode()).as(created.body()).isEqualTo(202);
        String id = ApiClient.json(created).get("id").asString();
        JsonNode done = awaitTraining(id);
        assertThat(done.get("status").asString()).as(done.toString()).isEqualTo("completed");

        // the DiT the run trained over, read from it: float8 block Linears (block-wise where the width allows), one block swapped
        JsonNode dit = done.path("result").path("dit");
        assertThat(dit.path("storage").asString()).as(dit.toString()).startsWith("float8_e4m3fn: ").contains("block-wise scales (64 columns)");
        assertThat(dit.path("blocks_swapped").asInt()).isEqualTo(1);
        assertThat(dit.path("built_for_training").asBoolean()).isTrue();

        List<String> notes = new ArrayList<>();
        done.get("notes").forEach(n -> notes.add(n.asString()));
        assertThat(notes).anyMatch(n -> n.startsWith("optimizer_type adamw8bit: 8-bit moments block-wise as bitsandbytes' AdamW8bit"))
                .anyMatch(n -> n.startsWith("fp8_base, fp8_scaled: the DiT's block Linears are stored as float8 e4m3 with block-wise scales (64 columns)"))
                .anyMatch(n -> n.startsWith("blocks_to_swap 1: the last 1 blocks' Linear weights stay in host memory"))
                .anyMatch(n -> n.startsWith("mixed_precision bf16:") && n.contains("on the CPU in float32"))
                .noneMatch(n -> n.contains("32-bit AdamW") || n.contains("recorded only"));
        ApiClient.Frames frames = alice().websocket("/v1/trainings/" + id + "/events", Duration.ofSeconds(10));
        assertThat(frames.messages()).filteredOn(m -> m.path("type").asString().equals("notes"))
                .singleElement().satisfies(m -> assertThat(m.path("data").get("notes")).isEqualTo(done.get("notes")));

        HttpResponse<byte[]> lora = alice().sendBytes(alice().request("/v1/trainings/" + id + "/files/mem.safetensors").GET().build());
        assertThat(lora.statusCode()).isEqualTo(200);
        Path downloaded = Files.createTempFile("mem", ".safetensors");
        Files.write(downloaded, lora.body());
        try (SafetensorsFile f = SafetensorsFile.open(downloaded)) {
            assertThat(f.metadata()).containsEntry("ss_fp8_base", "True").containsEntry("ss_fp8_scaled", "True")
                    .containsEntry("ss_optimizer", "bitsandbytes.optim.adamw.AdamW8bit").containsEntry("ss_mixed_precision", "bf16");
        } finally {
            Files.delete(downloaded);
        }
    }

    /** blocks_to_swap auto is resolved for the dataset's buckets against the memory budget, and the count is in the notes. */
    @Test
    void blocksToSwapAutoResolvesToACountInTheNotes() throws Exception {
        String options = "{\"network_dim\": 4, \"max_train_steps\": 2, \"seed\": 7, \"output_name\": \"auto\", \"blocks_to_swap\": \"auto\"}";
        HttpResponse<String> created = alice().post("/v1/trainings", "{\"dataset\":\"moving\",\"lora_name\":\"auto-swap\",\"args\":" + options + "}");
        assertThat(created.statusCode()).as(created.body()).isEqualTo(202);
        JsonNode done = awaitTraining(ApiClient.json(created).get("id").asString());
        assertThat(done.get("status").asString()).as(done.toString()).isEqualTo("completed");
        List<String> notes = new ArrayList<>();
        done.get("notes").forEach(n -> notes.add(n.asString()));
        // the preview's one block fits the default 24 GiB budget: none swapped, and the run's DiT is the served one
        assertThat(notes).anyMatch(n -> n.matches("blocks_to_swap auto: 0 blocks swapped .*planned peak [0-9.]+ GiB for the largest bucket \\d+x\\d+x\\d+ .*"));
        assertThat(done.path("result").path("dit").path("blocks_swapped").asInt()).isZero();
        assertThat(done.path("result").path("dit").path("built_for_training").asBoolean()).isFalse();
        assertThat(done.path("result").path("dit").path("storage").asString()).isEqualTo("compute dtype");
    }

    /** Block swap without gradient checkpointing cannot run: refused at submission, naming the field. */
    @Test
    void blocksToSwapWithoutGradientCheckpointingIsRefused() {
        for (String swap : List.of("1", "\"auto\"")) {
            Map<String, String> e = errors(alice().post("/v1/trainings", "{\"dataset\":\"moving\",\"args\":{\"max_train_steps\":2,"
                    + "\"blocks_to_swap\":" + swap + ",\"gradient_checkpointing\":false}}"));
            assertThat(e).as(swap).containsOnlyKeys("args.blocks_to_swap");
            assertThat(e.get("args.blocks_to_swap")).contains("gradient_checkpointing: true");
        }
    }
}
