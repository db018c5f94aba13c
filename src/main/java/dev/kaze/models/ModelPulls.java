package dev.kaze.models;

import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

/**
 * The pulls the server runs for its API: each on its own background thread, one per bundle at a
 * time (asking again for a bundle being pulled gives the running pull), each keeping its events so
 * that a late subscriber sees what happened (the latest progress of each file, not every one).
 * onPulled runs on the pull's thread after a bundle is complete (the server reloads its model there).
 */
public final class ModelPulls {
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final int KEPT = 64;

    private final Puller puller;
    private final Path served;
    private final Consumer<Bundle> onPulled;
    private final Map<String, Pull> running = new ConcurrentHashMap<>();
    private final Map<String, Pull> byId = new ConcurrentHashMap<>();

    /** served: the directory of the model the server serves (kaze.models.dir), null for the preview model. */
    public ModelPulls(Puller puller, Path served, Consumer<Bundle> onPulled) {
        this.puller = puller;
        this.served = served == null ? null : served.toAbsolutePath().normalize();
        this.onPulled = onPulled;
    }

    public ModelPaths paths() { return puller.paths(); }

    /** Whether bundle's files are those of the served model (or, for a LoRA, of its LoRA directory). */
    public boolean serves(Bundle bundle) {
        return bundle.kind() == Bundle.Kind.MODEL && paths().directory(bundle).equals(served);
    }

    /** The served model's directory, or null for the preview model. */
    public Path served() { return served; }

    /** A pull once asked for; started true when this call started it, false when it was already running. */
    public record Started(Pull pull, boolean started) {}

    /** Starts pulling bundle on a background thread, or gives the pull of it that is running. */
    public Started start(Bundle bundle) {
        Pull[] created = new Pull[1];
        Pull pull = running.computeIfAbsent(bundle.name(), name -> {
            created[0] = new Pull("pull_" + HexFormat.of().formatHex(bytes()), bundle, Instant.now());
            return created[0];
        });
        if (created[0] == null) return new Started(pull, false);
        byId.put(pull.id(), pull);
        forgetOld();
        Thread.ofPlatform().name("kaze-pull-" + bundle.name()).daemon().start(() -> run(pull));
        return new Started(pull, true);
    }

    public Optional<Pull> get(String id) { return Optional.ofNullable(byId.get(id)); }

    /** The pull of a bundle now running, if any. */
    public Optional<Pull> running(String bundle) { return Optional.ofNullable(running.get(bundle)); }

    /** Pulls, then (done) lets the server take the files in, then ends the pull: its end comes after the reload was asked for. */
    private void run(Pull pull) {
        PullException failure = null;
        try {
            puller.pull(pull.bundle(), pull::record);
            onPulled.accept(pull.bundle());
        } catch (PullException e) {
            failure = e;
        } catch (RuntimeException e) {
            failure = new PullException(pull.bundle().name() + ": the pull failed unexpectedly: " + e, e);
        }
        running.remove(pull.bundle().name(), pull);
        pull.end(failure);
    }

    /** Keeps the newest finished pulls' records only. */
    private void forgetOld() {
        if (byId.size() <= KEPT) return;
        byId.values().stream().filter(p -> p.state() != Pull.State.RUNNING)
                .sorted((a, b) -> a.startedAt().compareTo(b.startedAt()))
                .limit(byId.size() - KEPT).toList().forEach(p -> byId.remove(p.id()));
    }

    private static byte[] bytes() {
        byte[] b = new byte[12];
        RANDOM.nextBytes(b);
        return b;
    }

    /** One pull: its events so far, and its end (null error: it succeeded). */
    public static final class Pull {
        public enum State { RUNNING, SUCCEEDED, FAILED }

        /** Receives a pull's events as they come, then its end (error null on success). */
        public interface Subscriber {
            void event(PullEvent event);

            void end(PullException error);
        }

        private final String id;
        private final Bundle bundle;
        private final Instant startedAt;
        private final List<PullEvent> events = new ArrayList<>();
        private final List<Subscriber> subscribers = new ArrayList<>();
        private State state = State.RUNNING;
        private PullException error;
        private Instant endedAt;

        Pull(String id, Bundle bundle, Instant startedAt) {
            this.id = id;
            this.bundle = bundle;
            this.startedAt = startedAt;
        }

        public String id() { return id; }

        public Bundle bundle() { return bundle; }

        public Instant startedAt() { return startedAt; }

        public synchronized State state() { return state; }

        public synchronized PullException error() { return error; }

        public synchronized Instant endedAt() { return endedAt; }

        /** The events so far: each file's latest progress replaces its earlier ones. */
        public synchronized List<PullEvent> events() { return List.copyOf(events); }

        /**
         * Sends the events so far, then each new one, then the end, to subscriber (on the pull's thread
         * for live ones, holding the pull's lock: a subscriber hands them on and never blocks); returns
         * what stops the subscription.
         */
        public Runnable subscribe(Subscriber subscriber) {
            synchronized (this) {   // the past first, in order, before any live event
                for (PullEvent e : events) subscriber.event(e);
                if (state == State.RUNNING) subscribers.add(subscriber);
                else subscriber.end(error);
            }
            return () -> {
                synchronized (this) {
                    subscribers.remove(subscriber);
                }
            };
        }

        synchronized void record(PullEvent event) {
            if (event instanceof PullEvent.FileProgress p && !events.isEmpty()
                    && events.getLast() instanceof PullEvent.FileProgress last && last.file().equals(p.file()))
                events.removeLast();
            events.add(event);
            for (Subscriber s : List.copyOf(subscribers)) s.event(event);
        }

        synchronized void end(PullException failure) {
            error = failure;
            state = failure == null ? State.SUCCEEDED : State.FAILED;
            endedAt = Instant.now();
            for (Subscriber s : List.copyOf(subscribers)) s.end(failure);
            subscribers.clear();
        }
    }
}
