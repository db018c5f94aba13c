package dev.kaze.api;

import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import tools.jackson.databind.JsonNode;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * Usage accounting through the real server with the preview model on the CPU: each finished video carries its
 * {@code usage} (device seconds per stage, peak memory, model, LoRAs), and {@code GET /v1/usage} sums a key's own
 * jobs over a range; two keys see only their own.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "spring.datasource.url=jdbc:h2:mem:usage-e2e;DB_CLOSE_DELAY=-1",
        "kaze.data-dir=target/test-data/usage-e2e",
        "kaze.auth.anonymous=false",
        "kaze.auth.keys[0].id=alice", "kaze.auth.keys[0].key=alice-key",
        "kaze.auth.keys[1].id=bob", "kaze.auth.keys[1].key=bob-key",
        "kaze.auth.keys[2].id=ops", "kaze.auth.keys[2].key=ops-key", "kaze.auth.keys[2].admin=true",
        "kaze.webhooks.secret=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
})
class UsageApiEndToEndTest {
    static final String SMALL = "{\"prompt\":\"a cat in the rain\",\"size\":\"64x48\",\"frames\":9,\"steps\":3,\"seed\":%d}";

    @LocalServerPort int port;

    ApiClient alice() { return new ApiClient(port, "alice-key"); }
    ApiClient bob() { return new ApiClient(port, "bob-key"); }

    String submit(ApiClient client, int seed) {
        HttpResponse<String> created = client.post("/v1/videos", SMALL.formatted(seed));
        assertThat(created.statusCode()).as(created.body()).isEqualTo(202);
        JsonNode v = ApiClient.json(created);
        assertThat(v.get("usage").isNull()).as("no usage before it ran").isTrue();
        return v.get("id").asString();
    }

    @Test
    void finishedJobsCarryTheirUsageAndEachKeySumsOnlyItsOwn() throws Exception {
        Instant before = Instant.now();
        List<String> alices = List.of(submit(alice(), 1), submit(alice(), 2));
        String bobs = submit(bob(), 3);

        double aliceSeconds = 0;
        for (String id : alices) {
            JsonNode v = alice().awaitTerminal(id, Duration.ofMinutes(3));
            assertThat(v.get("status").asString()).isEqualTo("completed");
            JsonNode usage = v.get("usage");
            assertThat(usage.isObject()).as(v.toString()).isTrue();
            JsonNode stages = usage.get("stages");
            assertThat(stages.propertyNames()).containsExactly("text", "denoise", "decode", "encode");
            double sum = 0;
            for (String stage : stages.propertyNames()) {
                assertThat(stages.get(stage).asDouble()).as(stage).isGreaterThanOrEqualTo(0);
                sum += stages.get(stage).asDouble();
            }
            assertThat(stages.get("denoise").asDouble()).isPositive();
            assertThat(usage.get("device_seconds").asDouble()).isCloseTo(sum, within(0.005));
            // a job cannot have used the device longer than it existed
            double lived = Duration.between(before, Instant.now()).toMillis() / 1000.0;
            assertThat(usage.get("device_seconds").asDouble()).isPositive().isLessThan(lived);
            // on the CPU: the rise of the process's peak RSS, measured from /proc on Linux
            assertThat(usage.get("peak_device_memory_source").asString()).isEqualTo("process_rss");
            assertThat(usage.get("peak_device_memory_bytes").isIntegralNumber()).as(usage.toString()).isTrue();
            assertThat(usage.get("peak_device_memory_bytes").asLong()).isNotNegative();
            assertThat(usage.get("model").asString()).isEqualTo(v.get("model").asString());
            // the LoRAs the request used, with the SHA-256 the reproducibility manifest records
            JsonNode manifest = ApiClient.JSON.readTree(Files.readString(
                    Path.of("target/test-data/usage-e2e/jobs", id, "request.json")));
            JsonNode loras = usage.get("loras");
            assertThat(loras.propertyNames()).containsExactlyInAnyOrderElementsOf(manifest.get("lora_sha256").propertyNames());
            for (String name : loras.propertyNames()) {
                assertThat(loras.at("/" + name + "/sha256").asString()).matches("[0-9a-f]{64}")
                        .isEqualTo(manifest.get("lora_sha256").get(name).asString());
            }
            aliceSeconds += usage.get("device_seconds").asDouble();
        }
        JsonNode bobVideo = bob().awaitTerminal(bobs, Duration.ofMinutes(3));
        double bobSeconds = bobVideo.at("/usage/device_seconds").asDouble();
        assertThat(bobSeconds).isPositive();

        JsonNode mine = ApiClient.json(alice().get("/v1/usage"));
        assertThat(mine.get("object").asString()).isEqualTo("usage");
        assertThat(Instant.parse(mine.get("to").asString())).isAfter(before);
        assertThat(Duration.between(Instant.parse(mine.get("from").asString()), Instant.parse(mine.get("to").asString())))
                .isEqualTo(Duration.ofDays(30));
        assertThat(mine.get("data")).hasSize(1);
        JsonNode row = mine.get("data").get(0);
        assertThat(row.get("api_key").asString()).isEqualTo("alice");
        assertThat(row.get("jobs").asLong()).isEqualTo(2);
        assertThat(row.get("device_seconds").asDouble()).isCloseTo(aliceSeconds, within(0.01));
        assertThat(row.get("stages").propertyNames()).containsExactlyInAnyOrder("text", "denoise", "decode", "encode");

        JsonNode bobs_ = ApiClient.json(bob().get("/v1/usage?from=" + before.minusSeconds(1)));
        assertThat(bobs_.get("data")).hasSize(1);
        assertThat(bobs_.at("/data/0/api_key").asString()).isEqualTo("bob");
        assertThat(bobs_.at("/data/0/jobs").asLong()).isEqualTo(1);
        assertThat(bobs_.at("/data/0/device_seconds").asDouble()).isCloseTo(bobSeconds, within(0.01));

        // the operator's admin key sees every key's row, or one key's; an ordinary key may not look at another's
        JsonNode all = ApiClient.json(new ApiClient(port, "ops-key").get("/v1/usage?api_key=all&from=" + before.minusSeconds(1)));
        assertThat(all.get("data").findValuesAsString("api_key")).containsExactly("alice", "bob");
        assertThat(all.at("/data/0/jobs").asLong()).isEqualTo(2);
        assertThat(all.at("/data/0/device_seconds").asDouble()).isCloseTo(aliceSeconds, within(0.01));
        assertThat(all.at("/data/1/device_seconds").asDouble()).isCloseTo(bobSeconds, within(0.01));
        JsonNode onlyBob = ApiClient.json(new ApiClient(port, "ops-key").get("/v1/usage?api_key=bob"));
        assertThat(onlyBob.get("data").findValuesAsString("api_key")).containsExactly("bob");
        HttpResponse<String> peek = alice().get("/v1/usage?api_key=bob");
        assertThat(peek.statusCode()).isEqualTo(403);
        assertThat(peek.headers().firstValue("Content-Type").orElse("")).startsWith("application/problem+json");
        assertThat(ApiClient.json(peek).get("detail").asString()).contains("admin key");
        assertThat(ApiClient.json(alice().get("/v1/usage?api_key=all")).get("status").asInt()).isEqualTo(403);
        assertThat(ApiClient.json(alice().get("/v1/usage?api_key=alice")).get("data").findValuesAsString("api_key")).containsExactly("alice");

        // a range that ends before the jobs ran holds none of them
        JsonNode earlier = ApiClient.json(alice().get("/v1/usage?from=" + before.minus(Duration.ofDays(2)) + "&to=" + before.minusSeconds(60)));
        assertThat(earlier.get("data")).isEmpty();
    }

    @Test
    void badRangesAreProblemsNamingTheField() {
        HttpResponse<String> bad = alice().get("/v1/usage?from=yesterday");
        assertThat(bad.statusCode()).isEqualTo(400);
        assertThat(bad.headers().firstValue("Content-Type").orElse("")).startsWith("application/problem+json");
        assertThat(ApiClient.json(bad).get("errors").findValuesAsString("field")).containsExactly("from");

        HttpResponse<String> badTo = alice().get("/v1/usage?to=2026-13-01T00:00:00Z");
        assertThat(badTo.statusCode()).isEqualTo(400);
        assertThat(ApiClient.json(badTo).get("errors").findValuesAsString("field")).containsExactly("to");

        HttpResponse<String> reversed = alice().get("/v1/usage?from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z");
        assertThat(reversed.statusCode()).isEqualTo(400);
        assertThat(ApiClient.json(reversed).get("errors").findValuesAsString("field")).containsExactly("from");

        HttpResponse<String> tooLong = alice().get("/v1/usage?from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z");
        assertThat(tooLong.statusCode()).isEqualTo(400);
        assertThat(ApiClient.json(tooLong).get("errors").findValuesAsString("field")).containsExactly("from");

        HttpResponse<String> noKey = new ApiClient(port, null).get("/v1/usage");
        assertThat(noKey.statusCode()).isEqualTo(401);
    }
}
