package dev.kaze.bench;

import dev.kaze.KazeApplication;
import dev.kaze.jobs.JobStore;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;
import tools.jackson.databind.SerializationFeature;
import tools.jackson.databind.json.JsonMapper;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;

/**
 * The API's own overhead on this machine (not a test; run it with {@code ./bench} or {@code ./mvnw -Pbench
 * test-compile exec:exec}). Starts the server in-process on a random port on 127.0.0.1 with the device worker off (jobs
 * stay queued) and the queue limits raised, then measures
 * <ol>
 *   <li>{@code POST /v1/videos}: latency and throughput with {@code --clients} concurrent clients, {@code --requests}
 *       each, after {@code --warmup} unmeasured requests per client;</li>
 *   <li>WebSocket fan-out: {@code --subscribers} sockets on one job's events, {@code --events} progress events appended
 *       through the store one every {@code --interval-ms}; delivery latency append → receipt, and whether every
 *       subscriber got every event in order.</li>
 * </ol>
 * Against the in-memory H2 store, and with {@code --pg} also against PostgreSQL ({@code --pg-url}, database
 * {@code test} on 127.0.0.1:5432 by default) in a fresh schema that is dropped afterwards. Prints a table and writes
 * the figures as JSON to {@code --out} (target/bench/api-bench.json).
 */
public final class ApiBenchmark {
    record Options(int clients, int requests, int warmup, int subscribers, int events, int intervalMs, boolean pg,
                   String pgUrl, String pgUser, Path out, Duration limit, String only) {
        static Options parse(String[] args) {
            Map<String, String> o = new LinkedHashMap<>();
            o.put("clients", "200");
            o.put("requests", "20");
            o.put("warmup", "5");
            o.put("subscribers", "1000");
            o.put("events", "100");
            o.put("interval-ms", "20");
            o.put("pg", "false");
            o.put("pg-url", "jdbc:postgresql://127.0.0.1:5432/test");
            o.put("pg-user", "postgres");
            o.put("out", "target/bench/api-bench.json");
            o.put("limit-s", "300");
            o.put("only", "all");   // or submit, fanout
            for (int i = 0; i < args.length; i++) {
                String a = args[i];
                if (a.isBlank()) continue;
                if (!a.startsWith("--")) throw new IllegalArgumentException("unexpected argument '" + a + "'; options are --name value");
                String name = a.substring(2);
                String value;
                int eq = name.indexOf('=');
                if (eq >= 0) { value = name.substring(eq + 1); name = name.substring(0, eq); }
                else if (name.equals("pg")) value = "true";
                else if (i + 1 < args.length) value = args[++i];
                else throw new IllegalArgumentException("--" + name + " needs a value");
                if (!o.containsKey(name)) throw new IllegalArgumentException("unknown option --" + name + "; known: " + o.keySet());
                o.put(name, value);
            }
            return new Options(positive(o, "clients"), positive(o, "requests"), Integer.parseInt(o.get("warmup")),
                    positive(o, "subscribers"), positive(o, "events"), Integer.parseInt(o.get("interval-ms")),
                    Boolean.parseBoolean(o.get("pg")), o.get("pg-url"), o.get("pg-user"), Path.of(o.get("out")),
                    Duration.ofSeconds(positive(o, "limit-s")), o.get("only"));
        }

        boolean submit() { return !only.equals("fanout"); }

        boolean fanOut() { return !only.equals("submit"); }

        private static int positive(Map<String, String> o, String name) {
            int v = Integer.parseInt(o.get(name));
            if (v < 1 || v > 100_000) throw new IllegalArgumentException("--" + name + " must be 1..100000, got " + v);
            return v;
        }

        Map<String, Object> toMap() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("clients", clients);
            m.put("requests_per_client", requests);
            m.put("warmup_per_client", warmup);
            m.put("subscribers", subscribers);
            m.put("events", events);
            m.put("interval_ms", intervalMs);
            m.put("postgresql", pg);
            return m;
        }
    }

    record StoreResult(String store, SubmitLoad.Result submit, long queuedAfterSubmit, EventFanOut.Result fanOut) {}

    static String key(int client) { return "bench-key-" + client; }

    public static void main(String[] args) throws Exception {
        Options options = Options.parse(args);
        String loadAtStart = loadAverage();
        List<StoreResult> results = new ArrayList<>();
        results.add(runAgainst("h2-mem", options, List.of("--spring.datasource.url=jdbc:h2:mem:kaze-bench;DB_CLOSE_DELAY=-1")));
        if (options.pg()) {
            String schema = "kaze_bench_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
            Properties user = new Properties();
            user.setProperty("user", options.pgUser());
            try (Connection c = DriverManager.getConnection(options.pgUrl(), user); Statement st = c.createStatement()) {
                st.execute("CREATE SCHEMA " + schema);
            }
            try {
                results.add(runAgainst("postgresql", options, List.of(
                        "--spring.datasource.url=" + options.pgUrl() + (options.pgUrl().contains("?") ? "&" : "?") + "currentSchema=" + schema,
                        "--spring.datasource.username=" + options.pgUser(), "--spring.datasource.password=",
                        "--spring.flyway.schemas=" + schema)));
            } finally {
                try (Connection c = DriverManager.getConnection(options.pgUrl(), user); Statement st = c.createStatement()) {
                    st.execute("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
                }
            }
        }
        String table = table(options, results, loadAtStart);
        System.out.println(table);
        write(options, results, loadAtStart);
        System.out.println("figures written to " + options.out().toAbsolutePath());
        boolean ok = results.stream().allMatch(r -> (r.fanOut() == null || r.fanOut().complete() == r.fanOut().subscribers())
                && (r.submit() == null || r.submit().accepted() == r.submit().clients() * r.submit().requestsPerClient()));
        System.exit(ok ? 0 : 1);
    }

    static StoreResult runAgainst(String store, Options o, List<String> storeArgs) throws Exception {
        List<String> args = new ArrayList<>(storeArgs);
        args.addAll(List.of("--server.address=127.0.0.1", "--server.port=0", "--kaze.worker.enabled=false",
                "--kaze.limits.max-queued=10000000", "--kaze.limits.per-key-queued=10000000",
                "--kaze.data-dir=target/bench-data/" + store, "--kaze.auth.anonymous=false",
                "--spring.main.banner-mode=off", "--logging.level.root=WARN"));
        for (int i = 0; i < o.clients(); i++) {
            args.add("--kaze.auth.keys[" + i + "].id=client-" + i);
            args.add("--kaze.auth.keys[" + i + "].key=" + key(i));
        }
        System.out.println("== " + store + ": starting the server");
        try (ConfigurableApplicationContext context = new SpringApplicationBuilder(KazeApplication.class).run(args.toArray(String[]::new))) {
            int port = context.getEnvironment().getRequiredProperty("local.server.port", Integer.class);
            JobStore jobStore = context.getBean(JobStore.class);
            HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build();
            SubmitLoad.Result s = null;
            long queued = 0;
            if (o.submit()) {
                SubmitLoad submit = new SubmitLoad(http, port);
                if (o.warmup() > 0) {
                    System.out.println("== " + store + ": warm-up, " + o.clients() + " clients x " + o.warmup() + " submissions");
                    submit.run(o.clients(), o.warmup(), o.limit());
                }
                System.out.println("== " + store + ": " + o.clients() + " clients x " + o.requests() + " submissions");
                s = submit.run(o.clients(), o.requests(), o.limit());
                queued = jobStore.queueDepth();
                System.out.printf("   %d accepted in %.2f s: %.0f req/s, p50 %.1f ms, p99 %.1f ms; %d jobs queued now%n", s.accepted(),
                        s.seconds(), s.perSecond(), s.latency().p50(), s.latency().p99(), queued);
            }
            EventFanOut.Result f = null;
            if (o.fanOut()) {
                EventFanOut fanOut = new EventFanOut(http, port, jobStore);
                System.out.println("== " + store + ": fan-out warm-up, " + Math.min(100, o.subscribers()) + " subscribers x 20 events");
                fanOut.run(createJob(http, port), key(0), Math.min(100, o.subscribers()), 20, Duration.ofMillis(o.intervalMs()), o.limit());
                System.out.println("== " + store + ": fan-out, " + o.subscribers() + " subscribers x " + o.events() + " events every "
                        + o.intervalMs() + " ms");
                f = fanOut.run(createJob(http, port), key(0), o.subscribers(), o.events(), Duration.ofMillis(o.intervalMs()), o.limit());
                System.out.printf("   %d/%d subscribers complete and in order, delivery p50 %.1f ms, p99 %.1f ms, max %.1f ms%n",
                        f.complete(), f.subscribers(), f.delivery().p50(), f.delivery().p99(), f.delivery().max());
                f.problems().stream().limit(5).forEach(p -> System.out.println("   ! " + p));
            }
            return new StoreResult(store, s, queued, f);
        }
    }

    static String createJob(HttpClient http, int port) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/videos"))
                .header("Authorization", "Bearer " + key(0)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(SubmitLoad.body(0, -1))).build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 202) throw new IllegalStateException("could not create the fan-out job: " + r.statusCode() + " " + r.body());
        return JsonMapper.builder().build().readTree(r.body()).get("id").asString();
    }

    static String table(Options o, List<StoreResult> results, String load) {
        StringBuilder b = new StringBuilder();
        b.append(String.format("%nKaze API benchmark: %d cores, Java %s, load average at start %s%n", Runtime.getRuntime().availableProcessors(),
                Runtime.version(), load));
        b.append(String.format("%nPOST /v1/videos, %d concurrent clients x %d requests (after %d warm-up each; every job stays queued)%n",
                o.clients(), o.requests(), o.warmup()));
        b.append(String.format("%-11s %9s %9s %9s %9s %9s %9s %8s%n", "store", "p50 ms", "p90 ms", "p99 ms", "max ms", "mean ms", "req/s", "202s"));
        for (StoreResult r : results) {
            SubmitLoad.Result s = r.submit();
            if (s == null) continue;
            b.append(String.format("%-11s %9.1f %9.1f %9.1f %9.1f %9.1f %9.0f %8d%n", r.store(), s.latency().p50(), s.latency().p90(),
                    s.latency().p99(), s.latency().max(), s.latency().mean(), s.perSecond(), s.accepted()));
        }
        b.append(String.format("%nWebSocket fan-out, %d subscribers on one job, %d events appended every %d ms (latency: append -> receipt)%n",
                o.subscribers(), o.events(), o.intervalMs()));
        b.append(String.format("%-11s %9s %9s %9s %9s %10s %11s %10s%n", "store", "p50 ms", "p90 ms", "p99 ms", "max ms", "frames/s", "append p50", "in order"));
        for (StoreResult r : results) {
            EventFanOut.Result f = r.fanOut();
            if (f == null) continue;
            b.append(String.format("%-11s %9.1f %9.1f %9.1f %9.1f %10.0f %8.2f ms %10s%n", r.store(), f.delivery().p50(), f.delivery().p90(),
                    f.delivery().p99(), f.delivery().max(), f.framesPerSecond(), f.append().p50(), f.complete() + "/" + f.subscribers()));
        }
        return b.toString();
    }

    static void write(Options o, List<StoreResult> results, String load) throws Exception {
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("benchmark", "kaze-api");
        root.put("at", Instant.now().toString());
        Map<String, Object> machine = new LinkedHashMap<>();
        machine.put("cores", Runtime.getRuntime().availableProcessors());
        machine.put("java", Runtime.version().toString());
        machine.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version") + " " + System.getProperty("os.arch"));
        machine.put("load_average_at_start", load);
        machine.put("max_heap_mb", Runtime.getRuntime().maxMemory() >> 20);
        root.put("machine", machine);
        root.put("options", o.toMap());
        Map<String, Object> stores = new LinkedHashMap<>();
        for (StoreResult r : results) {
            Map<String, Object> m = new LinkedHashMap<>();
            if (r.submit() != null) {
                Map<String, Object> submit = r.submit().toMap();
                submit.put("queued_jobs_after", r.queuedAfterSubmit());
                m.put("submit", submit);
            }
            if (r.fanOut() != null) m.put("websocket_fan_out", r.fanOut().toMap());
            stores.put(r.store(), m);
        }
        root.put("stores", stores);
        Files.createDirectories(o.out().toAbsolutePath().getParent());
        Files.writeString(o.out(), JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build().writeValueAsString(root) + "\n");
    }

    static String loadAverage() {
        try {
            String[] parts = Files.readString(Path.of("/proc/loadavg")).split(" ");
            return parts[0] + " " + parts[1] + " " + parts[2];
        } catch (Exception e) {
            return "unknown";
        }
    }
}
