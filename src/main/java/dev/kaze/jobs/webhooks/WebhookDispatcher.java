package dev.kaze.jobs.webhooks;

import java.io.IOException;
import java.io.InputStream;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * Sends job events to their jobs' webhook URLs, signed with {@link WebhookSignature}.
 *
 * <ul>
 *   <li>{@link #enqueue} returns at once; sending runs on virtual threads of its own.</li>
 *   <li>At least once: a delivery is saved in the {@link WebhookOutbox} when enqueued and marked
 *       done only once delivered or given up; {@link #start()} resends what a previous process
 *       left, with the same {@code webhook-id}.</li>
 *   <li>2xx is delivered. Network errors, timeouts, 408, 429 and 5xx are retried after the
 *       next delay of {@link Settings#retryDelays()} (with jitter), or after the answer's
 *       {@code Retry-After}; after the last delay's attempt the message is given up. Any other
 *       answer (4xx, or a redirect, which is never followed) fails at once.</li>
 *   <li>One job's messages go out one at a time in {@code seq} order: a later event waits until
 *       the earlier one is delivered or given up. Different jobs do not wait for each other.</li>
 *   <li>Outcomes go to the {@link WebhookListener}.</li>
 * </ul>
 */
public final class WebhookDispatcher implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(WebhookDispatcher.class.getName());
    private static final String USER_AGENT = "Kaze-Webhooks/1";
    private static final Comparator<WebhookDelivery> BY_SEQ = Comparator.comparingLong(d -> d.message().seq());

    /**
     * How deliveries are paced.
     *
     * @param retryDelays    the wait before each retry; a message gets {@code retryDelays.size() + 1}
     *                       attempts in all
     * @param jitter         each wait is scaled by a random factor in [1 - jitter, 1 + jitter], 0 to 1
     * @param connectTimeout limit on opening the connection
     * @param requestTimeout limit from sending the request until the answer's headers arrive
     * @param maxRetryAfter  upper bound on a receiver's {@code Retry-After}
     * @param maxPending     messages waiting or in flight, beyond which enqueue drops new ones
     */
    public record Settings(List<Duration> retryDelays, double jitter, Duration connectTimeout,
                           Duration requestTimeout, Duration maxRetryAfter, int maxPending) {
        public Settings {
            retryDelays = List.copyOf(retryDelays);
            for (Duration d : retryDelays) {
                if (d.isNegative()) throw new IllegalArgumentException("webhook retry delays must not be negative: " + retryDelays);
            }
            if (!(jitter >= 0 && jitter <= 1)) throw new IllegalArgumentException("webhook jitter must be in [0, 1], got " + jitter);
            if (connectTimeout.isNegative() || connectTimeout.isZero() || requestTimeout.isNegative() || requestTimeout.isZero()) {
                throw new IllegalArgumentException("webhook timeouts must be positive");
            }
            if (maxRetryAfter.isNegative()) throw new IllegalArgumentException("webhook maxRetryAfter must not be negative");
            if (maxPending < 1) throw new IllegalArgumentException("webhook maxPending must be at least 1, got " + maxPending);
        }

        /** 6 attempts over about 1 h 13 min (5 s, 30 s, 2 min, 10 min, 1 h apart), 10 s to connect, 30 s to answer. */
        public static Settings production() {
            return new Settings(List.of(Duration.ofSeconds(5), Duration.ofSeconds(30), Duration.ofMinutes(2),
                    Duration.ofMinutes(10), Duration.ofHours(1)), 0.2, Duration.ofSeconds(10), Duration.ofSeconds(30),
                    Duration.ofHours(1), 10_000);
        }

        public Settings withRetryDelays(Duration... delays) {
            return new Settings(Arrays.asList(delays), jitter, connectTimeout, requestTimeout, maxRetryAfter, maxPending);
        }

        public Settings withTimeouts(Duration connect, Duration request) {
            return new Settings(retryDelays, jitter, connect, request, maxRetryAfter, maxPending);
        }

        public int maxAttempts() {
            return retryDelays.size() + 1;
        }
    }

    /** What one HTTP attempt came to. */
    private sealed interface Attempt {
        record Delivered(int status) implements Attempt {
        }

        /** @param retryAfter the receiver's wish, or null to follow the schedule */
        record Retry(String reason, Duration retryAfter) implements Attempt {
        }

        record Permanent(String reason) implements Attempt {
        }
    }

    private final Settings settings;
    private final WebhookOutbox outbox;
    private final WebhookListener listener;
    private final HttpClient client;
    private final ExecutorService senders = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("webhook-", 0).factory());

    private final Object lock = new Object();
    /** Per job, the messages not yet taken by its sender; a job has an entry exactly while its sender runs. */
    private final Map<String, PriorityQueue<WebhookDelivery>> lanes = new HashMap<>();
    /** Ids of messages waiting or in flight, to drop duplicates (an outbox reload of a queued message). */
    private final Set<String> pendingIds = new HashSet<>();
    private boolean closed;

    public WebhookDispatcher(Settings settings, WebhookOutbox outbox, WebhookListener listener) {
        this.settings = settings;
        this.outbox = outbox;
        this.listener = listener == null ? WebhookListener.NONE : listener;
        this.client = HttpClient.newBuilder()
                .connectTimeout(settings.connectTimeout())
                .followRedirects(HttpClient.Redirect.NEVER)
                .version(HttpClient.Version.HTTP_1_1)
                .build();
    }

    /**
     * Resends every delivery the outbox lets this process claim (left by an earlier process), in seq
     * order per job; then, when the outbox's claims expire ({@link WebhookOutbox#lease()}), renews
     * this process's claims and takes over those of dead replicas every third of the lease.
     */
    public void start() {
        List<WebhookDelivery> left = outbox.claimPending();
        if (!left.isEmpty()) LOG.log(System.Logger.Level.INFO, "resending {0} webhook deliveries left from before", left.size());
        resend(left);
        Duration lease = outbox.lease();
        if (lease.isPositive()) {
            Duration every = lease.dividedBy(3);
            senders.execute(() -> sweep(every));
        }
    }

    private void resend(List<WebhookDelivery> left) {
        // lower seqs first, so a job's sender cannot take a later event before an earlier one is queued
        left.stream().sorted(BY_SEQ).forEach(this::schedule);
    }

    /** Keeps this process's claims alive and picks up deliveries whose holder stopped renewing, until closed. */
    private void sweep(Duration every) {
        while (true) {
            try {
                Thread.sleep(every);
            } catch (InterruptedException e) {
                return; // closing
            }
            try {
                outbox.renewClaims();
                List<WebhookDelivery> orphans = outbox.claimPending();
                if (!orphans.isEmpty()) {
                    LOG.log(System.Logger.Level.INFO, "taking over {0} webhook deliveries whose holder stopped", orphans.size());
                }
                resend(orphans);
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "webhook outbox sweep failed; trying again in " + every, e);
            }
        }
    }

    /**
     * Queues {@code message} for {@code target} if the target wants its type, and returns at once.
     *
     * @return false when the target does not want this event type, the outbox says another
     * replica holds the same message id, or the queue is full (then the listener hears {@code failed}). After {@link #close()} the message is only saved to the
     * outbox, for the next start.
     */
    public boolean enqueue(WebhookTarget target, WebhookMessage message) {
        if (!target.accepts(message.type())) return false;
        synchronized (lock) {
            if (!closed && pendingIds.size() >= settings.maxPending()) {
                LOG.log(System.Logger.Level.WARNING, "webhook queue is full ({0} pending); dropping {1} of job {2}",
                        settings.maxPending(), message.id(), message.jobId());
                tell(() -> listener.failed(message, 0, "webhook queue is full (" + settings.maxPending() + " pending)"));
                return false;
            }
        }
        WebhookDelivery delivery = new WebhookDelivery(target, message);
        try {
            if (!outbox.save(delivery)) return false; // another replica holds it, or it is done
        } catch (RuntimeException e) {
            // still send it; it is only not safe from a restart
            LOG.log(System.Logger.Level.WARNING, "could not save webhook delivery " + message.id() + " to the outbox", e);
        }
        schedule(delivery);
        return true;
    }

    /** Messages waiting or in flight. */
    public int pending() {
        synchronized (lock) {
            return pendingIds.size();
        }
    }

    /**
     * Stops sending: waiting and in-flight deliveries are abandoned, stay in the outbox and go out
     * again on the next {@link #start()}.
     */
    @Override
    public void close() {
        synchronized (lock) {
            if (closed) return;
            closed = true;
        }
        senders.shutdownNow();
        try {
            senders.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        client.shutdownNow();
    }

    private void schedule(WebhookDelivery delivery) {
        String jobId = delivery.message().jobId();
        synchronized (lock) {
            if (closed || !pendingIds.add(delivery.message().id())) return;
            PriorityQueue<WebhookDelivery> lane = lanes.get(jobId);
            if (lane != null) {
                lane.add(delivery);
                return;
            }
            lane = new PriorityQueue<>(BY_SEQ);
            lane.add(delivery);
            lanes.put(jobId, lane);
            senders.execute(() -> drain(jobId));
        }
    }

    /** The sender of one job: delivers its messages one after another until none is left. */
    private void drain(String jobId) {
        while (true) {
            WebhookDelivery next;
            synchronized (lock) {
                next = lanes.get(jobId).poll();
                if (next == null) {
                    lanes.remove(jobId);
                    return;
                }
            }
            try {
                deliver(next);
            } catch (InterruptedException e) {
                return; // closing; the delivery stays in the outbox
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.ERROR, "webhook delivery " + next.message().id() + " broke", e);
                WebhookMessage message = next.message();
                done(message);
                tell(() -> listener.failed(message, 0, "could not be sent: " + e));
            }
            synchronized (lock) {
                pendingIds.remove(next.message().id());
            }
        }
    }

    private void deliver(WebhookDelivery delivery) throws InterruptedException {
        WebhookMessage message = delivery.message();
        int maxAttempts = settings.maxAttempts();
        for (int attempt = 1; ; attempt++) {
            switch (send(delivery)) {
                case Attempt.Delivered(int status) -> {
                    done(message);
                    int n = attempt;
                    tell(() -> listener.delivered(message, n, status));
                    return;
                }
                case Attempt.Permanent(String reason) -> {
                    done(message);
                    int n = attempt;
                    LOG.log(System.Logger.Level.WARNING, "webhook {0} of job {1} to {2} failed: {3}",
                            message.id(), message.jobId(), delivery.target().url(), reason);
                    tell(() -> listener.failed(message, n, reason));
                    return;
                }
                case Attempt.Retry(String reason, Duration retryAfter) -> {
                    int n = attempt;
                    if (attempt >= maxAttempts) {
                        done(message);
                        String why = "gave up after " + attempt + " attempts; last: " + reason;
                        LOG.log(System.Logger.Level.WARNING, "webhook {0} of job {1} to {2}: {3}",
                                message.id(), message.jobId(), delivery.target().url(), why);
                        tell(() -> listener.failed(message, n, why));
                        return;
                    }
                    Duration delay = retryAfter != null ? min(retryAfter, settings.maxRetryAfter())
                            : jittered(settings.retryDelays().get(attempt - 1));
                    tell(() -> listener.retrying(message, n, reason, delay));
                    Thread.sleep(delay);
                }
            }
        }
    }

    private Attempt send(WebhookDelivery delivery) throws InterruptedException {
        WebhookMessage message = delivery.message();
        byte[] body = message.json().getBytes(StandardCharsets.UTF_8);
        long timestamp = Instant.now().getEpochSecond();
        HttpRequest request = HttpRequest.newBuilder(delivery.target().url())
                .timeout(settings.requestTimeout())
                .header("content-type", "application/json")
                .header("user-agent", USER_AGENT)
                .header(WebhookSignature.ID_HEADER, message.id())
                .header(WebhookSignature.TIMESTAMP_HEADER, Long.toString(timestamp))
                .header(WebhookSignature.SIGNATURE_HEADER,
                        WebhookSignature.sign(WebhookSignature.key(delivery.target().secret()), message.id(), timestamp, body))
                .POST(HttpRequest.BodyPublishers.ofByteArray(body))
                .build();
        HttpResponse<InputStream> response;
        try {
            response = client.send(request, HttpResponse.BodyHandlers.ofInputStream());
        } catch (HttpConnectTimeoutException e) {
            return new Attempt.Retry("could not connect within " + settings.connectTimeout(), null);
        } catch (HttpTimeoutException e) {
            return new Attempt.Retry("no answer within " + settings.requestTimeout(), null);
        } catch (IOException e) {
            return new Attempt.Retry("network error: " + e, null);
        }
        try (InputStream ignored = response.body()) {
            // the answer's body is not needed; closing drops it without waiting for a slow sender
        } catch (IOException ignored) {
        }
        int status = response.statusCode();
        if (status >= 200 && status < 300) return new Attempt.Delivered(status);
        if (status == 408 || status == 429 || status >= 500) {
            return new Attempt.Retry("HTTP " + status, retryAfter(response.headers().firstValue("retry-after"), Instant.now()));
        }
        if (status >= 300 && status < 400) {
            return new Attempt.Permanent("HTTP " + status + " redirect (webhooks do not follow redirects; use the final URL)");
        }
        return new Attempt.Permanent("HTTP " + status);
    }

    /** A {@code Retry-After} value (delay seconds, or an HTTP date) as a wait from {@code now}; null if absent or unreadable. */
    static Duration retryAfter(Optional<String> header, Instant now) {
        if (header.isEmpty()) return null;
        String value = header.get().strip();
        if (value.matches("\\d{1,9}")) return Duration.ofSeconds(Long.parseLong(value));
        try {
            Duration d = Duration.between(now, ZonedDateTime.parse(value, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant());
            return d.isNegative() ? Duration.ZERO : d;
        } catch (DateTimeParseException e) {
            return null;
        }
    }

    private Duration jittered(Duration delay) {
        if (settings.jitter() == 0 || delay.isZero()) return delay;
        double factor = 1 + settings.jitter() * (2 * ThreadLocalRandom.current().nextDouble() - 1);
        return Duration.ofNanos(Math.round(delay.toNanos() * factor));
    }

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) <= 0 ? a : b;
    }

    /** Marks the delivery done in the outbox, and no longer pending here, before its listener hears how it ended. */
    private void done(WebhookMessage message) {
        try {
            outbox.markDone(message.id());
        } catch (RuntimeException e) {
            // it will be sent again after a restart; receivers drop duplicates by webhook-id
            LOG.log(System.Logger.Level.WARNING, "could not mark webhook delivery " + message.id() + " done in the outbox", e);
        }
        synchronized (lock) {
            pendingIds.remove(message.id());
        }
    }

    private static void tell(Runnable call) {
        try {
            call.run();
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "webhook listener threw", e);
        }
    }
}
