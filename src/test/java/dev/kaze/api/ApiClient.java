package dev.kaze.api;

import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;

/** A small HTTP + WebSocket client for the tests, against a server on 127.0.0.1. */
record ApiClient(int port, String key) {
    static final JsonMapper JSON = JsonMapper.builder().build();
    static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();

    HttpRequest.Builder request(String path) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(60));
        if (key != null) b.header("Authorization", "Bearer " + key);
        return b;
    }

    HttpResponse<String> send(HttpRequest r) {
        try {
            return HTTP.send(r, HttpResponse.BodyHandlers.ofString());
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    HttpResponse<byte[]> sendBytes(HttpRequest r) {
        try {
            return HTTP.send(r, HttpResponse.BodyHandlers.ofByteArray());
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    HttpResponse<String> post(String path, String json) {
        return send(request(path).header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(json)).build());
    }

    HttpResponse<String> get(String path) { return send(request(path).GET().build()); }

    static JsonNode json(HttpResponse<String> r) { return JSON.readTree(r.body()); }

    /** Polls until the video reaches a terminal status. */
    JsonNode awaitTerminal(String id, Duration timeout) throws InterruptedException {
        long end = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < end) {
            JsonNode v = json(get("/v1/videos/" + id));
            String s = v.path("status").asString();
            if (s.equals("completed") || s.equals("failed") || s.equals("cancelled")) return v;
            Thread.sleep(50);
        }
        throw new AssertionError("video " + id + " did not finish within " + timeout);
    }

    /** Every text frame of a WebSocket until the server closes it, and the close code. */
    record Frames(List<JsonNode> messages, int closeCode) {}

    Frames websocket(String path, Duration timeout) throws Exception {
        List<JsonNode> messages = new ArrayList<>();
        CompletableFuture<Integer> closed = new CompletableFuture<>();
        StringBuilder partial = new StringBuilder();
        WebSocket.Listener listener = new WebSocket.Listener() {
            @Override public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
                partial.append(data);
                if (last) {
                    synchronized (messages) { messages.add(JSON.readTree(partial.toString())); }
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
        };
        String sep = path.contains("?") ? "&" : "?";
        String url = "ws://127.0.0.1:" + port + path + (key == null ? "" : sep + "access_token=" + key);
        HTTP.newWebSocketBuilder().buildAsync(URI.create(url), listener).get(10, TimeUnit.SECONDS);
        int code = closed.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        synchronized (messages) { return new Frames(List.copyOf(messages), code); }
    }
}
