package dev.kaze.api;

import dev.kaze.KazeApplication;
import dev.kaze.jobs.DeviceWorker;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;
import tools.jackson.databind.JsonNode;

import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * kaze.role: the api role serves the API at once without loading a model (its jobs wait for a worker), the worker
 * role renders and serves only /actuator (everything else a 404 problem), and a bad role stops the start naming
 * the property and the values it takes.
 */
class RolesTest {
    static final String SMALL = "{\"prompt\":\"a cat in the rain\",\"size\":\"64x48\",\"frames\":9,\"steps\":2,\"seed\":5}";

    @TempDir Path tmp;

    ConfigurableApplicationContext start(String... extra) {
        List<String> args = new ArrayList<>(List.of(
                "--server.port=0",
                "--spring.datasource.url=jdbc:h2:mem:roles-" + UUID.randomUUID() + ";DB_CLOSE_DELAY=-1",
                "--kaze.data-dir=" + tmp.resolve("data"),
                "--kaze.auth.anonymous=true"));
        args.addAll(List.of(extra));
        return new SpringApplicationBuilder(KazeApplication.class).run(args.toArray(String[]::new));
    }

    static ApiClient client(ConfigurableApplicationContext app) {
        return new ApiClient(Integer.parseInt(app.getEnvironment().getProperty("local.server.port")), "any");
    }

    @Test
    void apiRoleIsReadyAtOnceAndQueuesJobsItDoesNotRender() throws Exception {
        try (ConfigurableApplicationContext app = start("--kaze.role=api")) {
            ApiClient c = client(app);
            HttpResponse<String> ready = c.get("/actuator/health/readiness");
            assertThat(ready.statusCode()).as(ready.body()).isEqualTo(200);
            JsonNode model = ApiClient.json(ready).at("/components/model");
            assertThat(model.path("status").asString()).isEqualTo("UP");
            assertThat(model.at("/details/role").asString()).isEqualTo("api");

            HttpResponse<String> created = c.post("/v1/videos", SMALL);
            assertThat(created.statusCode()).as(created.body()).isEqualTo(202);
            String id = ApiClient.json(created).get("id").asString();
            Thread.sleep(3000);   // the preview model loads and renders this in well under that where a worker runs
            JsonNode v = ApiClient.json(c.get("/v1/videos/" + id));
            assertThat(v.get("status").asString()).isEqualTo("queued");
            DeviceWorker worker = app.getBean(DeviceWorker.class);
            assertThat(worker.ready()).as("no model is loaded in the api role").isFalse();
            assertThat(worker.loadError()).isNull();
            assertThat(c.get("/").statusCode()).as("the studio page").isEqualTo(200);
        }
    }

    @Test
    void workerEnabledFalseStillMeansApiAndASetRoleWins() throws Exception {
        try (ConfigurableApplicationContext app = start("--kaze.worker.enabled=false")) {
            JsonNode model = ApiClient.json(client(app).get("/actuator/health/readiness")).at("/components/model");
            assertThat(model.at("/details/role").asString()).isEqualTo("api");
        }
        try (ConfigurableApplicationContext app = start("--kaze.worker.enabled=false", "--kaze.role=all")) {
            ApiClient c = client(app);
            String id = ApiClient.json(c.post("/v1/videos", SMALL)).get("id").asString();
            assertThat(c.awaitTerminal(id, Duration.ofSeconds(120)).get("status").asString()).isEqualTo("completed");
        }
    }

    @Test
    void workerRoleServesOnlyActuatorAndIsReadyOnceTheModelIsLoaded() throws Exception {
        try (ConfigurableApplicationContext app = start("--kaze.role=worker")) {
            ApiClient c = client(app);
            for (String path : List.of("/v1/videos", "/v1/models", "/", "/index.html")) {
                HttpResponse<String> r = c.get(path);
                assertThat(r.statusCode()).as(path + ": " + r.body()).isEqualTo(404);
                assertThat(r.headers().firstValue("Content-Type")).hasValue("application/problem+json");
                assertThat(ApiClient.json(r).get("detail").asString()).contains("kaze.role=worker");
            }
            HttpResponse<String> post = c.post("/v1/videos", SMALL);
            assertThat(post.statusCode()).isEqualTo(404);

            long end = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            HttpResponse<String> ready = c.get("/actuator/health/readiness");
            while (ready.statusCode() != 200 && System.nanoTime() < end) {
                Thread.sleep(100);
                ready = c.get("/actuator/health/readiness");
            }
            assertThat(ready.statusCode()).as(ready.body()).isEqualTo(200);
            assertThat(ApiClient.json(ready).at("/components/model/status").asString()).isEqualTo("UP");
            assertThat(app.getBean(DeviceWorker.class).ready()).isTrue();
            assertThat(c.get("/actuator/prometheus").statusCode()).isEqualTo(200);
        }
    }

    @Test
    void aBadRoleStopsTheStartNamingThePropertyAndItsValues() {
        assertThatThrownBy(() -> start("--kaze.role=gpu").close())
                .rootCause().hasMessageContaining("kaze.role").hasMessageContaining("'gpu'")
                .hasMessageContaining("all, api or worker");
    }
}
