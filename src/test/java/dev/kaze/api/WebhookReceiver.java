package dev.kaze.api;

import com.sun.net.httpserver.HttpServer;
import dev.kaze.jobs.webhooks.WebhookSignature;
import dev.kaze.jobs.webhooks.WebhookVerificationException;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** A local webhook endpoint for the tests: keeps every delivery whose Standard Webhooks signature verifies (204), refuses others (401). */
final class WebhookReceiver implements AutoCloseable {
    /** One verified delivery: its webhook-id header and body. */
    record Delivery(String id, String body) {}

    private final HttpServer server;
    private final BlockingQueue<Delivery> received = new LinkedBlockingQueue<>();

    WebhookReceiver(String secret) throws IOException {
        this(secret, 0);
    }

    /** A receiver on {@code port} (0: any free one), e.g. one that comes up where a webhook URL pointed while it was down. */
    WebhookReceiver(String secret, int port) throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 0);
        server.createContext("/hook", exchange -> {
            String body = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
            try {
                WebhookSignature.verify(secret, exchange.getRequestHeaders(), body, Duration.ofMinutes(5));
                received.add(new Delivery(exchange.getRequestHeaders().getFirst("webhook-id"), body));
                exchange.sendResponseHeaders(204, -1);
            } catch (WebhookVerificationException e) {
                exchange.sendResponseHeaders(401, -1);
            }
            exchange.close();
        });
        server.start();
    }

    String url() { return "http://127.0.0.1:" + server.getAddress().getPort() + "/hook"; }

    /** The next delivery, or null after the timeout. */
    Delivery poll(long seconds) throws InterruptedException { return received.poll(seconds, TimeUnit.SECONDS); }

    @Override public void close() { server.stop(0); }
}
