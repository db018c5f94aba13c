package dev.kaze.jobs;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Durable store of jobs, their event logs and render checkpoints, shared by the API (submit, list, cancel) and the
 * device worker (claim, progress, finish). Every method blocks on the database: call it off the Netty threads.
 * Methods that change a job named by id throw {@link JobNotFoundException} when there is no such job.
 */
public interface JobStore {
    /**
     * Creates a job (status QUEUED, event seq 1 "queued"), or returns the existing job for the same
     * owner+idempotencyKey when requestHash matches; throws {@link IdempotencyConflictException} when the hash
     * differs. Atomic: concurrent submissions with one key make one job.
     */
    Job create(NewJob job);

    Optional<Job> find(String id);

    /**
     * Newest first (createdAt, then id, descending). {@code owner} null = all owners, {@code status} null = any;
     * {@code cursor} null = first page, else a previous page's nextCursor. Pages stay stable while jobs are added.
     * {@code limit} 1..1000.
     */
    default JobPage list(String owner, JobStatus status, String cursor, int limit) {
        return list(owner, status, cursor, limit, false);
    }

    /**
     * As {@link #list(String, JobStatus, String, int)}, oldest first when {@code ascending}. {@code cursor} may also
     * be the id of one of {@code owner}'s jobs (OpenAI's {@code after}): the page starts after that job.
     */
    default JobPage list(String owner, JobStatus status, String cursor, int limit, boolean ascending) {
        return list(owner, null, status, cursor, limit, ascending);
    }

    /** As {@link #list(String, JobStatus, String, int, boolean)}, only jobs of {@code kind} (null: every kind). */
    JobPage list(String owner, JobKind kind, JobStatus status, String cursor, int limit, boolean ascending);

    /**
     * Claims the next QUEUED job: highest priority first, FIFO (created_at, then id) within a priority; sets
     * IN_PROGRESS, workerId, startedAt, appends "started". Several workers never claim the same job (PostgreSQL:
     * SELECT … FOR UPDATE SKIP LOCKED). Also records a heartbeat for {@code workerId}.
     */
    Optional<Job> claimNext(String workerId);

    /** Sets stage/step/totalSteps and progress (0..100; it never decreases) of a non-terminal job. No event. */
    void updateProgress(String id, int progress, String stage, int step, int totalSteps);

    /** Appends an event; seq = previous + 1 per job, gap-free, atomic. Subscribers see it after commit. */
    JobEvent appendEvent(String id, String type, String dataJson);

    /** Events with seq &gt; afterSeq, in seq order (afterSeq 0 = all). Empty for an unknown job. */
    List<JobEvent> events(String id, long afterSeq);

    /**
     * The events a webhook can receive ({@link JobEventType#webhook()}) of the jobs whose request named a webhook,
     * appended at or after {@code since}, in job id then seq order, after the event {@code after} in that order (null:
     * from the first), at most {@code limit} (1..10000) of them: a page of what a webhook relay that was not running
     * may have missed. Empty where the store cannot search its event logs by time.
     */
    default List<JobEvent> webhookEventsSince(Instant since, JobEvent after, int limit) {
        return List.of();
    }

    /** → COMPLETED with the final resolved request (null keeps the stored one); appends "completed". */
    Job complete(String id, String resolvedJson);

    /** → FAILED with the error (a problem-details JSON); appends "failed" carrying the error. */
    Job fail(String id, String errorJson);

    /** → CANCELLED; appends "cancelled". complete/fail/cancel return a terminal job unchanged (no event). */
    Job cancel(String id);

    /**
     * Sets cancelRequested on an IN_PROGRESS job (the worker stops between steps and calls {@link #cancel});
     * appends "cancel_requested" the first time. False when the job is not IN_PROGRESS or does not exist.
     */
    boolean requestCancel(String id);

    /** Removes the job, its events and its checkpoint; false when there was none. */
    boolean delete(String id);

    /** QUEUED + IN_PROGRESS jobs of this owner. */
    long countActive(String owner);

    /** All QUEUED jobs. */
    long queueDepth();

    /** 0-based position among QUEUED jobs in claim order; null if the job is not queued. */
    Integer queuePosition(String id);

    /**
     * On start-up: every IN_PROGRESS job of this worker, or of workers considered dead (no heartbeat within the
     * store's worker timeout), goes back to QUEUED with an event "requeued" (a job whose cancel was requested
     * becomes CANCELLED instead); returns how many were requeued. Also records a heartbeat for {@code workerId}.
     */
    int requeueInterrupted(String workerId);

    /**
     * While a worker runs: every IN_PROGRESS job of another worker considered dead (no heartbeat within
     * {@link #workerTimeout()}) goes back to QUEUED with an event "requeued" (a job whose cancel was requested becomes
     * CANCELLED instead); never a job of {@code workerId} itself, which may still be finishing it. Returns how many
     * were requeued. Also records a heartbeat for {@code workerId}.
     */
    int requeueAbandoned(String workerId);

    /** How long a worker may go without a heartbeat before its running jobs count as abandoned. */
    Duration workerTimeout();

    /**
     * Marks the worker alive; claimNext, updateProgress and requeueInterrupted do it too, so a worker needs this only
     * while it goes longer than the worker timeout without them. Added to the agreed contract; a no-op by default.
     */
    default void heartbeat(String workerId) {
    }

    /**
     * Adds a run's usage to the job's ({@link JobUsage#plus}: a resumed job's runs add up) and stamps it now; kept
     * when the job is deleted, for accounting. A no-op where the store keeps no usage.
     */
    default void recordUsage(String id, JobUsage usage) {
    }

    /** The job's recorded usage, if any. */
    default Optional<JobUsage> usage(String id) {
        return Optional.empty();
    }

    /**
     * Device seconds per owner of the usage recorded in [from, to), sorted by owner; only {@code owner}'s when it is
     * not null.
     */
    default List<OwnerUsage> usageByOwner(String owner, Instant from, Instant to) {
        return List.of();
    }

    /** Latest render checkpoint (replaces the previous one). */
    void saveCheckpoint(String id, int step, byte[] state);

    Optional<Checkpoint> checkpoint(String id);

    /**
     * Listener called for every appended event (any job), after commit, on one store thread per store (keep it quick,
     * hand work off). On PostgreSQL also events appended by other processes (LISTEN/NOTIFY; payload job id + seq, the
     * event is re-read). H2: in-process only. Closing the returned handle unsubscribes.
     */
    AutoCloseable subscribe(Consumer<JobEvent> listener);
}
