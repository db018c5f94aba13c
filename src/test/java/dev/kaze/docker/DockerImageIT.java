package dev.kaze.docker;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.command.BuildImageResultCallback;
import com.github.dockerjava.api.command.InspectContainerResponse;
import com.github.dockerjava.api.model.Image;
import dev.kaze.json.Json;
import dev.kaze.video.VideoInfo;
import dev.kaze.video.VideoProbe;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.Container;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.utility.DockerImageName;
import tools.jackson.databind.JsonNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * The cpu image of docker/Dockerfile, built from the packaged jar and run as a user would run it: readiness, the
 * image's HEALTHCHECK, an API key from the environment, POST /v1/videos → its events until completed → the MP4,
 * checked with ffprobe; {@code kaze models list} through the entry point; the non-root user.
 * <p>
 * The base images are the Dockerfile's public defaults unless KAZE_JDK_BASE / KAZE_RUNTIME_BASE name others (CI makes
 * them with docker/local-bases.sh, as no registry is reachable there). Without Docker the test is skipped, unless
 * KAZE_REQUIRE_DOCKER=1 (set by .ci/run), which makes a missing Docker a failure.
 */
class DockerImageIT {
    static final String TAG = "kaze-it:cpu";
    static final String KEY = "ci-docker-key";
    static final String BODY = "{\"prompt\":\"a cat in the rain\",\"size\":\"64x48\",\"frames\":9,\"steps\":2,\"seed\":7}";

    static GenericContainer<?> kaze;
    static HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    static Path work;
    /** Untagged images there were before the build: the build's own (its other stages) are removed afterwards. */
    static Set<String> danglingBefore = Set.of();

    @BeforeAll
    static void buildAndStart() throws IOException {
        String noDocker = dockerProblem();
        if (noDocker != null) {
            if ("1".equals(System.getenv("KAZE_REQUIRE_DOCKER")))
                fail("KAZE_REQUIRE_DOCKER=1 but Docker cannot be used (" + noDocker + "); start dockerd, or see .ci/run");
            Assumptions.abort("no usable Docker (" + noDocker + "); set KAZE_REQUIRE_DOCKER=1 to make this a failure");
        }
        String classifier = System.getProperty("kaze.torch.classifier", "linux-x86_64");
        Assumptions.assumeFalse(classifier.endsWith("-gpu"), "a -Pcuda jar goes into the cuda image, which needs a GPU to test");
        Path jar = Path.of(System.getProperty("kaze.jar", "target/kaze-0.1.0-SNAPSHOT.jar")).toAbsolutePath();
        assertThat(jar).as("the packaged jar (the IT runs after ./mvnw package)").isRegularFile();

        long t0 = System.nanoTime();
        danglingBefore = dangling();
        String imageId = build(jar);
        System.out.printf("DockerImageIT: image %s (%s) built in %.1f s%n", TAG, imageId, (System.nanoTime() - t0) / 1e9);

        t0 = System.nanoTime();
        kaze = new GenericContainer<>(DockerImageName.parse(TAG))   // by tag: a bare image id would be pulled as a name
                .withExposedPorts(8080)
                .withEnv("KAZE_AUTH_KEYS_0_ID", "ci")
                .withEnv("KAZE_AUTH_KEYS_0_KEY", KEY)
                .waitingFor(Wait.forHttp("/actuator/health/readiness").forStatusCode(200)
                        .withStartupTimeout(Duration.ofMinutes(5)));
        try {
            kaze.start();
        } catch (RuntimeException e) {
            throw new AssertionError("the container did not become ready; its log:\n" + kaze.getLogs(), e);
        }
        System.out.printf("DockerImageIT: container ready in %.1f s%n", (System.nanoTime() - t0) / 1e9);
        work = Files.createTempDirectory("kaze-docker-it");
    }

    /** Null when Testcontainers reaches a Docker daemon, else why not. */
    static String dockerProblem() {
        try {
            return DockerClientFactory.instance().isDockerAvailable() ? null : "no Docker daemon answers";
        } catch (RuntimeException e) {
            // e.g. inside a container, where Testcontainers looks for the host's address by running an image it
            // may not be able to pull: TESTCONTAINERS_HOST_OVERRIDE=localhost avoids that with a local daemon
            return e.toString();
        }
    }

    /** Builds through the Docker API from a context of just the Dockerfile, the entry point and the jar. */
    static String build(Path jar) throws IOException {
        Path root = Path.of("").toAbsolutePath();
        Path context = Files.createTempDirectory(jar.getParent(), "docker-context");
        Path docker = Files.createDirectories(context.resolve("docker"));
        Files.copy(root.resolve("docker/Dockerfile"), docker.resolve("Dockerfile"));
        Files.copy(root.resolve("docker/kaze.sh"), docker.resolve("kaze.sh"));
        Path target = Files.createDirectories(context.resolve("target"));
        try {
            Files.createLink(target.resolve(jar.getFileName()), jar);
        } catch (IOException | UnsupportedOperationException e) {
            Files.copy(jar, target.resolve(jar.getFileName()), StandardCopyOption.COPY_ATTRIBUTES);
        }
        DockerClient client = DockerClientFactory.instance().client();
        var cmd = client.buildImageCmd()
                .withBaseDirectory(context.toFile())
                .withDockerfile(docker.resolve("Dockerfile").toFile())
                .withBuildArg("FLAVOUR", "cpu")
                .withBuildArg("JAR_FILE", "target/" + jar.getFileName())
                .withTags(Set.of(TAG))
                .withPull(false)
                .withForcerm(true);
        for (var arg : Map.of("JDK_IMAGE", "KAZE_JDK_BASE", "RUNTIME_IMAGE", "KAZE_RUNTIME_BASE").entrySet()) {
            String base = System.getenv(arg.getValue());
            if (base != null && !base.isBlank()) cmd.withBuildArg(arg.getKey(), base);
        }
        try {
            return cmd.exec(new BuildImageResultCallback()).awaitImageId(15, TimeUnit.MINUTES);
        } finally {
            deleteTree(context);
        }
    }

    @AfterAll
    static void stopAndRemove() throws IOException {
        if (kaze != null) {
            kaze.stop();
            DockerClient client = DockerClientFactory.instance().client();
            client.removeImageCmd(TAG).withForce(true).exec();
            for (String id : dangling())
                if (!danglingBefore.contains(id)) {
                    try {
                        client.removeImageCmd(id).exec();
                    } catch (RuntimeException e) {
                        System.out.println("DockerImageIT: left image " + id + ": " + e.getMessage());
                    }
                }
        }
        if (work != null) deleteTree(work);
    }

    URI uri(String path) {
        return URI.create("http://" + kaze.getHost() + ":" + kaze.getMappedPort(8080) + path);
    }

    HttpRequest.Builder request(String path) {
        return HttpRequest.newBuilder(uri(path)).timeout(Duration.ofMinutes(5)).header("Authorization", "Bearer " + KEY);
    }

    @Test
    void rendersAVideoThroughTheContainer() throws Exception {
        HttpResponse<String> unauthenticated = http.send(HttpRequest.newBuilder(uri("/v1/videos")).GET().build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(unauthenticated.statusCode()).as("no key, no anonymous access in the image").isEqualTo(401);

        HttpResponse<String> created = http.send(request("/v1/videos").header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(BODY)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(created.statusCode()).as(created.body()).isEqualTo(202);
        String id = Json.MAPPER.readTree(created.body()).get("id").asString();

        // the server-sent events of the job, read until the stream ends after the terminal event
        HttpResponse<Stream<String>> events = http.send(request("/v1/videos/" + id + "/events")
                .header("Accept", "text/event-stream").GET().build(), HttpResponse.BodyHandlers.ofLines());
        assertThat(events.statusCode()).isEqualTo(200);
        List<String> types = new ArrayList<>();
        try (Stream<String> lines = events.body()) {
            for (String line : (Iterable<String>) lines::iterator) {
                if (!line.startsWith("event:")) continue;
                String type = line.substring(6).strip();
                types.add(type);
                if (type.equals("completed") || type.equals("failed") || type.equals("cancelled")) break;
            }
        }
        assertThat(types).as("events; container log:\n%s", kaze.getLogs()).startsWith("queued", "started").endsWith("completed");

        JsonNode done = Json.MAPPER.readTree(http.send(request("/v1/videos/" + id).GET().build(), HttpResponse.BodyHandlers.ofString()).body());
        assertThat(done.get("status").asString()).isEqualTo("completed");

        Path mp4 = work.resolve(id + ".mp4");
        HttpResponse<Path> content = http.send(request("/v1/videos/" + id + "/content").GET().build(), HttpResponse.BodyHandlers.ofFile(mp4));
        assertThat(content.statusCode()).isEqualTo(200);
        assertThat(content.headers().firstValue("Content-Type")).hasValue("video/mp4");
        VideoInfo info = VideoProbe.probe(mp4);
        assertThat(info.codec()).isEqualTo("h264");
        assertThat(info.pixFmt()).isEqualTo("yuv420p");
        assertThat(info.width()).isEqualTo(64);
        assertThat(info.height()).isEqualTo(48);
        assertThat(info.frameCount()).isEqualTo(9);

        // the job's files are on the /data volume
        Container.ExecResult ls = kaze.execInContainer("ls", "/data/jobs/" + id);
        assertThat(ls.getStdout()).as(ls.getStderr()).contains("request.json");
    }

    @Test
    void theHealthcheckReportsHealthyOnceReady() throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        String status = null;
        while (System.nanoTime() < deadline) {
            InspectContainerResponse.ContainerState state = kaze.getCurrentContainerInfo().getState();
            status = state.getHealth() == null ? null : state.getHealth().getStatus();
            if ("healthy".equals(status)) break;
            Thread.sleep(1000);
        }
        assertThat(status).as("Docker's health status of the ready container").isEqualTo("healthy");
        Container.ExecResult direct = kaze.execInContainer("kaze", "healthcheck");
        assertThat(direct.getExitCode()).as(direct.getStderr()).isZero();
    }

    @Test
    void theEntryPointRunsTheModelsCommandAsTheKazeUser() throws Exception {
        Container.ExecResult list = kaze.execInContainer("kaze", "models", "list");
        assertThat(list.getExitCode()).as(list.getStderr()).isZero();
        assertThat(list.getStdout()).contains("wan2.1-t2v-14b-fp8");

        Container.ExecResult id = kaze.execInContainer("id", "-u");
        assertThat(id.getStdout().strip()).isEqualTo("10001");
        Container.ExecResult java = kaze.execInContainer("java", "--list-modules");
        assertThat(java.getStdout()).contains("java.base").doesNotContain("jdk.compiler", "jdk.jshell");
    }

    static Set<String> dangling() {
        return DockerClientFactory.instance().client().listImagesCmd().withDanglingFilter(true).exec().stream()
                .map(Image::getId).collect(Collectors.toSet());
    }

    static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) return;
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted((a, b) -> b.getNameCount() - a.getNameCount()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }
    }
}
