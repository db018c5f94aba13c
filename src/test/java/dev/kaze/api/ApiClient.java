package dev.kaze.api;

import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
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

    /** A multipart/form-data POST: the text fields, then one file. */
    HttpResponse<String> postMultipart(String path, Map<String, String> fields, String fileField, String fileName, String contentType,
                                       byte[] file) {
        String boundary = "kazeboundary" + System.nanoTime();
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        for (var f : fields.entrySet())
            body.writeBytes(("--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + f.getKey() + "\"\r\n\r\n" + f.getValue() + "\r\n")
                    .getBytes(StandardCharsets.UTF_8));
        body.writeBytes(("--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + fileField + "\"; filename=\"" + fileName
                + "\"\r\nContent-Type: " + contentType + "\r\n\r\n").getBytes(StandardCharsets.UTF_8));
        body.writeBytes(file);
        body.writeBytes(("\r\n--" + boundary + "--\r\n").getBytes(StandardCharsets.UTF_8));
        return send(request(path).header("Content-Type", "multipart/form-data; boundary=" + boundary)
                .POST(HttpRequest.BodyPublishers.ofByteArray(body.toByteArray())).build());
    }

    /** A dataset zip uploaded as a training ({@code dataset} part) with the form's other fields. */
    HttpResponse<String> postDataset(String path, byte[] zip, Map<String, String> fields) {
        return postMultipart(path, fields, "dataset", "dataset.zip", "application/zip", zip);
    }

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
