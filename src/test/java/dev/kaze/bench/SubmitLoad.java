package dev.kaze.bench;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code POST /v1/videos} from {@code clients} concurrent clients (each its own API key, one virtual thread, requests
 * one after another), all started together: latency of every request, and requests per second over the whole run.
 */
final class SubmitLoad {
    /** What one run measured. */
    record Result(int clients, int requestsPerClient, int accepted, Map<Integer, Integer> otherStatuses, int failures,
                  double seconds, double perSecond, Latencies latency) {
        Map<String, Object> toMap() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("clients", clients);
            m.put("requests_per_client", requestsPerClient);
            m.put("accepted_202", accepted);
            m.put("other_statuses", otherStatuses);
            m.put("transport_failures", failures);
            m.put("seconds", Latencies.round(seconds));
            m.put("requests_per_second", Latencies.round(perSecond));
            m.put("latency", latency.toMap());
            return m;
        }
    }

    private final HttpClient http;
    private final int port;

    SubmitLoad(HttpClient http, int port) {
        this.http = http;
        this.port = port;
    }

    static String body(int client, int request) {
        return "{\"prompt\":\"a paper boat on a mountain stream, client " + client + " take " + request + "\","
                + "\"size\":\"832x480\",\"frames\":81,\"steps\":8,\"metadata\":{\"client\":\"" + client + "\"}}";
    }

    Result run(int clients, int requestsPerClient, Duration limit) throws InterruptedException {
        long[] latencies = new long[clients * requestsPerClient];
        AtomicInteger done = new AtomicInteger();
        AtomicInteger accepted = new AtomicInteger();
        AtomicInteger failures = new AtomicInteger();
        Map<Integer, AtomicInteger> others = new ConcurrentHashMap<>();
        CountDownLatch ready = new CountDownLatch(clients);
        CountDownLatch go = new CountDownLatch(1);
        CountDownLatch finished = new CountDownLatch(clients);
        long deadline = System.nanoTime() + limit.toNanos();
        try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int c = 0; c < clients; c++) {
                int client = c;
                threads.execute(() -> {
                    try {
                        ready.countDown();
                        go.await();
                        for (int r = 0; r < requestsPerClient && System.nanoTime() < deadline; r++) {
                            HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/videos"))
                                    .timeout(Duration.ofSeconds(60))
                                    .header("Authorization", "Bearer " + ApiBenchmark.key(client))
                                    .header("Content-Type", "application/json")
                                    .POST(HttpRequest.BodyPublishers.ofString(body(client, r))).build();
                            long t0 = System.nanoTime();
                            try {
                                HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
                                long t = System.nanoTime() - t0;
                                latencies[done.getAndIncrement()] = t;
                                if (response.statusCode() == 202) accepted.incrementAndGet();
                                else others.computeIfAbsent(response.statusCode(), k -> new AtomicInteger()).incrementAndGet();
                            } catch (java.io.IOException e) {
                                failures.incrementAndGet();
                            }
                        }
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    } finally {
                        finished.countDown();
                    }
                });
            }
            ready.await();
            long start = System.nanoTime();
            go.countDown();
            if (!finished.await(limit.toMillis() + 60_000, TimeUnit.MILLISECONDS))
                throw new IllegalStateException("submit load did not finish within " + limit + " (+60 s)");
            double seconds = (System.nanoTime() - start) / 1e9;
            int n = done.get();
            long[] measured = java.util.Arrays.copyOf(latencies, n);
            Map<Integer, Integer> statuses = new TreeMap<>();
            others.forEach((k, v) -> statuses.put(k, v.get()));
            return new Result(clients, requestsPerClient, accepted.get(), statuses, failures.get(), seconds, n / seconds,
                    Latencies.of(measured));
        }
    }
}
