package dev.kaze.prompts;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.kaze.json.Json;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;

/**
 * A local chat-completions server for the tests (JDK HttpServer on 127.0.0.1, a free port), answering
 * {@code POST /v1/chat/completions} by what the user message asks for: "slow" waits 3 s, "error" is a 500
 * with an OpenAI error body, "denied" a 401, "no style" replies without the trigger phrase, "garbage" is not
 * chat-completions JSON; anything else gets {@code Studio Ghibli style. <an expansion>}. Keeps every request.
 */
public final class ChatServer implements AutoCloseable {
    /** One request: its Authorization header and JSON body. */
    public record Received(String authorization, String contentType, JsonNode body) {}

    public static final String EXPANSION = "A girl with short brown hair walks through a sunlit meadow, soft watercolour clouds "
            + "drifting overhead, warm nostalgic light; the camera pans slowly beside her.";

    private final HttpServer server;
    private final List<Received> received = new CopyOnWriteArrayList<>();

    public ChatServer() throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.setExecutor(Executors.newCachedThreadPool());
        server.createContext("/v1/chat/completions", this::answer);
        server.start();
    }

    /** The base URL to configure (the API root, without /chat/completions). */
    public String baseUrl() { return "http://127.0.0.1:" + server.getAddress().getPort() + "/v1"; }

    public List<Received> received() { return List.copyOf(received); }

    private void answer(HttpExchange ex) throws IOException {
        JsonNode body = Json.MAPPER.readTree(ex.getRequestBody().readAllBytes());
        received.add(new Received(ex.getRequestHeaders().getFirst("Authorization"), ex.getRequestHeaders().getFirst("Content-Type"), body));
        String user = "";
        for (JsonNode m : body.path("messages")) if (m.path("role").asString("").equals("user")) user = m.path("content").asString("");
        if (!ex.getRequestMethod().equals("POST")) { send(ex, 405, "{\"error\":{\"message\":\"POST only\"}}"); return; }
        if (user.contains("slow")) {
            try {
                Thread.sleep(3000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (user.contains("error")) { send(ex, 500, "{\"error\":{\"message\":\"model overloaded, try later\",\"type\":\"server_error\"}}"); return; }
        if (user.contains("denied")) { send(ex, 401, "{\"error\":{\"message\":\"Incorrect API key provided\"}}"); return; }
        if (user.contains("garbage")) { send(ex, 200, "<html>not json</html>"); return; }
        String content = user.contains("no style") ? "A photorealistic cinematic shot of " + user : "Studio Ghibli style. " + EXPANSION;
        ObjectNode reply = Json.MAPPER.createObjectNode().put("id", "chatcmpl-1").put("object", "chat.completion")
                .put("model", body.path("model").asString(""));
        reply.putArray("choices").addObject().put("index", 0).put("finish_reason", "stop")
                .putObject("message").put("role", "assistant").put("content", content);
        send(ex, 200, reply.toString());
    }

    private static void send(HttpExchange ex, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        try {
            ex.sendResponseHeaders(status, bytes.length);
            try (OutputStream out = ex.getResponseBody()) {
                out.write(bytes);
            }
        } catch (IOException e) {
            // the client gave up (a timeout test)
        }
    }

    @Override public void close() { server.stop(0); }
}
