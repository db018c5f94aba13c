package dev.kaze.jobs;

import dev.kaze.jobs.webhooks.WebhookDispatcher;
import dev.kaze.jobs.webhooks.WebhookMessage;
import dev.kaze.jobs.webhooks.WebhookTarget;
import dev.kaze.json.Json;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Sends each job's events to the webhook its request named, signed with the server's secret. The
 * message id is derived from the job and the event's sequence number, so a receiver can drop
 * duplicates (delivery is at least once; several replicas may relay the same event).
 *
 * <p>With a {@link CatchUp}, the relay also re-reads the store's recent webhook events when it starts (after it
 * subscribed, so no event falls between) and then every {@link CatchUp#every()}, and relays each one again: an event
 * committed while no relay was running (the process was killed before its relay saved it to the outbox), or one the
 * live path could not hand over (the dispatcher's queue was full, the store failed), still goes out. A relayed event
 * that is already in the outbox, pending or done, is not sent again: the outbox must remember done deliveries for
 * longer than the catch-up's {@link CatchUp#window()}.
 */
public final class WebhookRelay implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(WebhookRelay.class.getName());
    /** Events read from the store at once by a catch-up pass. */
    static final int PAGE = 500;
    /**
     * How far a periodic pass looks back before the previous pass began: events appended (stamped) just before it and
     * committed after it read, or stamped by another replica whose clock is a little behind.
     */
    static final Duration OVERLAP = Duration.ofMinutes(2);

    /**
     * How the relay catches up on events it did not relay live.
     *
     * @param window     how far back a pass looks: events appended earlier are left alone. Must stay safely shorter
     *                   than the time the outbox remembers done deliveries, or a delivered event goes out again
     * @param every      the wait between passes, after the first at start
     * @param maxPending while the dispatcher has this many messages pending, a pass hands it nothing more (it stops,
     *                   and the next one starts from where it started) and a live event is also left to the next pass;
     *                   below the dispatcher's own limit, beyond which it drops messages
     */
    public record CatchUp(Duration window, Duration every, int maxPending) {
        public CatchUp {
            if (window == null || !window.isPositive()) throw new IllegalArgumentException("webhook catch-up window must be positive, got " + window);
            if (every == null || !every.isPositive()) throw new IllegalArgumentException("webhook catch-up interval must be positive, got " + every);
            if (maxPending < 1) throw new IllegalArgumentException("webhook catch-up maxPending must be at least 1, got " + maxPending);
        }

        /**
         * Every minute, over the last {@code doneRetention} less an hour (an event delivered late, up to the
         * dispatcher's retry schedule after it was appended, is still remembered), handing the dispatcher at most half
         * of its {@code dispatcherMaxPending} so live events keep room.
         */
        public static CatchUp within(Duration doneRetention, int dispatcherMaxPending) {
            Duration window = doneRetention.minusHours(1);
            if (!window.isPositive()) throw new IllegalArgumentException("the outbox must keep done deliveries for more than an hour to catch up on webhook events, got " + doneRetention);
            return new CatchUp(window, Duration.ofMinutes(1), Math.max(1, dispatcherMaxPending / 2));
        }
    }

    private final JobStore store;
    private final WebhookDispatcher dispatcher;
    private final String secret;
    private final CatchUp catchUp;
    private final Clock clock;
    private final ExecutorService relay = Executors.newSingleThreadExecutor(r -> Thread.ofPlatform().name("kaze-webhooks").daemon().unstarted(r));
    private final ScheduledExecutorService catchUpThread;
    /** The earliest appended time of an event the live path may have failed to hand over; null when none. */
    private final AtomicReference<Instant> missedSince = new AtomicReference<>();
    /** Where the next pass starts; null: the whole window. Guarded by this. */
    private Instant nextSince;
    private AutoCloseable subscription;

    /** A relay of live events only: for an outbox that forgets done deliveries (nothing to catch up against). */
    public WebhookRelay(JobStore store, WebhookDispatcher dispatcher, String secret) {
        this(store, dispatcher, secret, null, Clock.systemUTC());
    }

    /** A relay that also catches up on missed events as {@code catchUp} says (null: never), by {@code clock}. */
    public WebhookRelay(JobStore store, WebhookDispatcher dispatcher, String secret, CatchUp catchUp, Clock clock) {
        this.store = store;
        this.dispatcher = dispatcher;
        this.secret = secret;
        this.catchUp = catchUp;
        this.clock = clock;
        this.catchUpThread = catchUp == null ? null : Executors.newSingleThreadScheduledExecutor(
                r -> Thread.ofPlatform().name("kaze-webhook-catch-up").daemon().unstarted(r));
    }

    public void start() {
        dispatcher.start();
        subscription = store.subscribe(e -> relay.execute(() -> relayLive(e)));
        if (catchUp != null) {
            catchUpThread.scheduleWithFixedDelay(this::scheduledCatchUp, 0, catchUp.every().toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    /**
     * One catch-up pass now: every webhook event of the window (the whole window on the first pass and after a pass
     * that stopped early; else since the previous pass began, less {@link #OVERLAP}, or since an event the live path
     * missed) is relayed again. Returns how many the dispatcher took to send (the others were in the outbox already,
     * are not wanted by their webhook, or their job is gone).
     *
     * @throws IllegalStateException on a relay made without a {@link CatchUp}
     */
    public synchronized int catchUp() {
        if (catchUp == null) throw new IllegalStateException("this webhook relay was made without a catch-up");
        Instant began = clock.instant();
        Instant floor = began.minus(catchUp.window());
        Instant since = nextSince == null || nextSince.isBefore(floor) ? floor : nextSince;
        Instant missed = missedSince.getAndSet(null);
        if (missed != null && missed.isBefore(since)) since = missed.isBefore(floor) ? floor : missed;
        nextSince = since; // until this pass has gone through all of it
        int handed = 0;
        JobEvent after = null;
        Job job = null;
        while (true) {
            List<JobEvent> page = store.webhookEventsSince(since, after, PAGE);
            for (JobEvent e : page) {
                if (dispatcher.pending() >= catchUp.maxPending()) {
                    LOG.log(System.Logger.Level.WARNING, "webhook catch-up stopped: {0} deliveries pending; the next pass goes on",
                            dispatcher.pending());
                    return handed;
                }
                if (job == null || !job.id().equals(e.jobId())) job = store.find(e.jobId()).orElse(null);
                if (job != null && relay(e, job)) handed++;
            }
            if (page.size() < PAGE) break;
            after = page.getLast();
        }
        nextSince = began.minus(OVERLAP);
        if (handed > 0) LOG.log(System.Logger.Level.INFO, "webhook catch-up relayed {0} events no relay had saved", handed);
        return handed;
    }

    private void scheduledCatchUp() {
        try {
            catchUp();
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "webhook catch-up failed; trying again in " + catchUp.every(), e);
        }
    }

    /** An event as it is appended: relayed now, or, where that cannot be done, noted for the next catch-up pass. */
    private void relayLive(JobEvent e) {
        if (!webhookEvent(e)) return;
        try {
            if (catchUp != null && dispatcher.pending() >= catchUp.maxPending()) missed(e);
            Job job = store.find(e.jobId()).orElse(null);
            if (job != null) relay(e, job);
        } catch (RuntimeException ex) {
            if (catchUp != null) missed(e);
            LOG.log(System.Logger.Level.WARNING, "could not relay event " + e.seq() + " of job " + e.jobId()
                    + (catchUp != null ? "; the next catch-up pass will" : ""), ex);
        }
    }

    private void missed(JobEvent e) {
        missedSince.accumulateAndGet(e.at(), (a, b) -> a == null || b.isBefore(a) ? b : a);
    }

    private static boolean webhookEvent(JobEvent e) {
        return JobEventType.of(e.type()).map(JobEventType::webhook).orElse(false);
    }

    /**
     * Builds the message of event {@code e} of {@code job} and hands it to the dispatcher: the one path of live and
     * caught-up events, so both give the same message id and body. Returns whether the dispatcher took it to send.
     */
    private boolean relay(JobEvent e, Job job) {
        JobEventType type = JobEventType.of(e.type()).orElse(null);
        if (type == null || !type.webhook() || job.webhookJson() == null) return false;
        JsonNode hook = Json.MAPPER.readTree(job.webhookJson());
        Set<String> events = new LinkedHashSet<>();
        hook.path("events").forEach(n -> events.add(n.asString()));
        WebhookTarget target = new WebhookTarget(URI.create(hook.get("url").asString()), events, secret);
        ObjectNode body = Json.MAPPER.createObjectNode();
        String object = job.kind() == JobKind.VIDEO ? "video" : "training";
        String self = (job.kind() == JobKind.VIDEO ? "/v1/videos/" : "/v1/trainings/") + job.id();
        body.put("type", object + "." + e.type());
        body.put("timestamp", e.at().toString());
        ObjectNode data = body.putObject("data");
        data.put("id", job.id());
        data.put("object", object);
        data.put("seq", e.seq());
        data.put("event", e.type());
        data.put("status", job.status().name().toLowerCase(Locale.ROOT));
        data.set("event_data", e.dataJson() == null || e.dataJson().isBlank() ? Json.MAPPER.createObjectNode() : Json.MAPPER.readTree(e.dataJson()));
        if (job.metadataJson() != null) data.set("metadata", Json.MAPPER.readTree(job.metadataJson()));
        if (type == JobEventType.COMPLETED && job.kind() == JobKind.VIDEO) {
            data.put("content_url", self + "/content");
            data.put("thumbnail_url", self + "/content?variant=thumbnail");
        }
        if (type == JobEventType.COMPLETED && job.kind() == JobKind.TRAINING) data.put("files_url", self + "/files");
        return dispatcher.enqueue(target, new WebhookMessage("msg_" + job.id() + "_" + e.seq(), job.id(), e.seq(), e.type(), body.toString()));
    }

    @Override public void close() throws Exception {
        if (subscription != null) subscription.close();
        if (catchUpThread != null) {
            catchUpThread.shutdownNow();
            catchUpThread.awaitTermination(5, TimeUnit.SECONDS);
        }
        relay.shutdown();
        dispatcher.close();
    }
}
