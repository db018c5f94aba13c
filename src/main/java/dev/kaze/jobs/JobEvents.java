package dev.kaze.jobs;

import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Sinks;
import reactor.core.scheduler.Schedulers;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One ordered, numbered event log per job, served to any number of subscribers: the stored
 * events after a given sequence number, then live ones as the store reports them, with no gap
 * and no repeat (a missed live event is re-read from the store). The stream ends after the job's
 * terminal event.
 */
public final class JobEvents implements AutoCloseable {
    private final JobStore store;
    private final Sinks.Many<JobEvent> live = Sinks.many().multicast().directBestEffort();
    private final AutoCloseable subscription;

    public JobEvents(JobStore store) {
        this.store = store;
        this.subscription = store.subscribe(e -> live.emitNext(e, Sinks.EmitFailureHandler.busyLooping(Duration.ofMillis(50))));
    }

    /** Every event of the job with seq > after, in order, then live until the terminal event. */
    public Flux<JobEvent> stream(String jobId, long after) {
        return Flux.defer(() -> {
            AtomicLong last = new AtomicLong(after);
            // queue live events from now on, so nothing appended while the history is read is lost; the queue hands
            // each event on once sent (a replay() here kept every live event for the whole life of the stream)
            Sinks.Many<JobEvent> liveForJob = Sinks.many().unicast().onBackpressureBuffer();
            Disposable feed = live.asFlux().filter(e -> e.jobId().equals(jobId)).subscribe(e -> liveForJob.tryEmitNext(e));
            Flux<JobEvent> history = Flux.defer(() -> Flux.fromIterable(store.events(jobId, after))).subscribeOn(Schedulers.boundedElastic());
            return Flux.concat(history, liveForJob.asFlux())
                    .doFinally(signal -> feed.dispose())
                    .concatMap(e -> {
                        long seen = last.get();
                        if (e.seq() <= seen) return Flux.empty();
                        if (e.seq() == seen + 1) { last.set(e.seq()); return Flux.just(e); }
                        return Flux.defer(() -> {
                            List<JobEvent> missed = store.events(jobId, last.get());
                            missed.forEach(m -> last.accumulateAndGet(m.seq(), Math::max));
                            return Flux.fromIterable(missed);
                        }).subscribeOn(Schedulers.boundedElastic());
                    })
                    .takeUntil(e -> JobEventType.isTerminal(e.type()));
        });
    }

    @Override public void close() throws Exception {
        subscription.close();
        live.tryEmitComplete();
    }
}
