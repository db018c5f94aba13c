package dev.kaze.bench;

import dev.kaze.jobs.JobStore;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * {@code subscribers} WebSockets on one job's {@code /v1/videos/{id}/events}; once every one has the job's first event,
 * {@code events} progress events are appended through the store (as the device worker appends them), one every
 * {@code interval}, then the job completes. Each progress event carries the {@link System#nanoTime()} taken just before
 * its append; each subscriber notes when every frame arrived. Checks that every subscriber got every event, in order,
 * and a normal close.
 */
final class EventFanOut {
    private static final JsonMapper JSON = JsonMapper.builder().build();

    /** What one run measured. */
    record Result(int subscribers, int events, double intervalMs, double connectSeconds, double appendSeconds,
                  double drainSeconds, long frames, double framesPerSecond, Latencies delivery, Latencies append,
                  int complete, List<String> problems) {
        Map<String, Object> toMap() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("subscribers", subscribers);
            m.put("events", events);
            m.put("interval_ms", intervalMs);
            m.put("connect_seconds", Latencies.round(connectSeconds));
            m.put("append_seconds", Latencies.round(appendSeconds));
            m.put("drain_seconds_after_last_append", Latencies.round(drainSeconds));
            m.put("frames_received", frames);
            m.put("frames_per_second", Latencies.round(framesPerSecond));
            m.put("delivery_latency", delivery.toMap());
            m.put("append_call", append.toMap());
            m.put("subscribers_complete_in_order", complete);
            m.put("problems", problems);
            return m;
        }
    }

    /** One WebSocket: every text frame with the time it arrived, and how it closed. */
    private static final class Subscriber implements WebSocket.Listener {
        final List<String> frames = new ArrayList<>();
        final List<Long> arrived = new ArrayList<>();
        final StringBuilder partial = new StringBuilder();
        final CompletableFuture<Integer> closed = new CompletableFuture<>();
        final CountDownLatch first;

        Subscriber(CountDownLatch first) { this.first = first; }

        @Override public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
            long now = System.nanoTime();
            partial.append(data);
            if (last) {
                synchronized (this) {
                    frames.add(partial.toString());
                    arrived.add(now);
                    if (frames.size() == 1) first.countDown();
                }
                partial.setLength(0);
            }
            ws.request(1);
            return null;
        }

        @Override public CompletionStage<?> onClose(WebSocket ws, int statusCode, String reason) {
            closed.complete(statusCode);
            return null;
        }

        @Override public void onError(WebSocket ws, Throwable error) { closed.completeExceptionally(error); }
    }

    private final HttpClient http;
    private final int port;
    private final JobStore store;

    EventFanOut(HttpClient http, int port, JobStore store) {
        this.http = http;
        this.port = port;
        this.store = store;
    }

    Result run(String jobId, String key, int subscribers, int events, Duration interval, Duration limit) throws Exception {
        long deadline = System.nanoTime() + limit.toNanos();
        CountDownLatch first = new CountDownLatch(subscribers);
        List<Subscriber> subs = new ArrayList<>();
        List<CompletableFuture<WebSocket>> sockets = new ArrayList<>();
        Semaphore handshakes = new Semaphore(64);
        URI uri = URI.create("ws://127.0.0.1:" + port + "/v1/videos/" + jobId + "/events?access_token=" + key);
        long t0 = System.nanoTime();
        for (int i = 0; i < subscribers; i++) {
            Subscriber s = new Subscriber(first);
            subs.add(s);
            handshakes.acquire();
            CompletableFuture<WebSocket> ws = http.newWebSocketBuilder().connectTimeout(Duration.ofSeconds(30)).buildAsync(uri, s);
            ws.whenComplete((w, e) -> handshakes.release());
            sockets.add(ws);
        }
        for (CompletableFuture<WebSocket> ws : sockets) ws.get(remainingMillis(deadline), TimeUnit.MILLISECONDS);
        // every subscriber has its first event (read from the store), so its live subscription is in place
        if (!first.await(remainingMillis(deadline), TimeUnit.MILLISECONDS))
            throw new IllegalStateException((subscribers - first.getCount()) + " of " + subscribers + " subscribers got their first event in time");
        double connectSeconds = (System.nanoTime() - t0) / 1e9;

        long[] appendNanos = new long[events + 1];
        long appendStart = System.nanoTime();
        long next = appendStart;
        for (int step = 1; step <= events; step++) {
            long wait = next - System.nanoTime();
            if (wait > 0) TimeUnit.NANOSECONDS.sleep(wait);
            next += interval.toNanos();
            long before = System.nanoTime();
            store.appendEvent(jobId, "progress", "{\"stage\":\"denoise\",\"progress\":" + (5 + 90 * step / events)
                    + ",\"step\":" + step + ",\"total_steps\":" + events + ",\"step_seconds\":0.02,\"eta_seconds\":"
                    + (events - step) + ",\"bench_ns\":" + before + "}");
            appendNanos[step - 1] = System.nanoTime() - before;
        }
        long before = System.nanoTime();
        store.complete(jobId, null);
        long lastAppend = System.nanoTime();
        appendNanos[events] = lastAppend - before;
        double appendSeconds = (lastAppend - appendStart) / 1e9;

        List<String> problems = new ArrayList<>();
        for (int i = 0; i < subs.size(); i++) {
            try {
                int code = subs.get(i).closed.get(remainingMillis(deadline), TimeUnit.MILLISECONDS);
                if (code != 1000) problems.add("subscriber " + i + " closed with " + code);
            } catch (java.util.concurrent.TimeoutException e) {
                problems.add("subscriber " + i + " was not closed in time (" + subs.get(i).frames.size() + " frames)");
            } catch (java.util.concurrent.ExecutionException e) {
                problems.add("subscriber " + i + " failed: " + e.getCause());
            }
        }
        long lastArrival = lastAppend;
        long frames = 0;
        int complete = 0;
        List<Long> latencies = new ArrayList<>();
        for (int i = 0; i < subs.size(); i++) {
            Subscriber s = subs.get(i);
            synchronized (s) {
                frames += s.frames.size();
                boolean ok = s.frames.size() == events + 2;
                long expected = 1;
                for (int f = 0; f < s.frames.size(); f++) {
                    JsonNode e = JSON.readTree(s.frames.get(f));
                    if (e.get("seq").asLong() != expected++) ok = false;
                    long at = s.arrived.get(f);
                    lastArrival = Math.max(lastArrival, at);
                    JsonNode sent = e.path("data").get("bench_ns");
                    if (sent != null) latencies.add(at - sent.asLong());
                }
                if (!s.frames.isEmpty() && !JSON.readTree(s.frames.getLast()).get("type").asString().equals("completed")) ok = false;
                if (ok) complete++;
                else if (problems.size() < 20) problems.add("subscriber " + i + " got " + s.frames.size() + " frames, expected "
                        + (events + 2) + " numbered 1.." + (events + 2));
            }
        }
        double drainSeconds = (lastArrival - lastAppend) / 1e9;
        long[] delivery = latencies.stream().mapToLong(Long::longValue).toArray();
        double span = (lastArrival - appendStart) / 1e9;
        return new Result(subscribers, events, interval.toNanos() / 1e6, connectSeconds, appendSeconds, drainSeconds, frames,
                (double) subscribers * (events + 1) / span, Latencies.of(delivery), Latencies.of(appendNanos), complete, problems);
    }

    private static long remainingMillis(long deadline) {
        return Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()));
    }
}
