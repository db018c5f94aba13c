package dev.kaze.jobs;

import dev.kaze.pipeline.GenerateRequest;
import dev.kaze.storage.FileStore;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.Comparator;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

/**
 * Submission, reading, cancelling and deleting of video jobs, on top of the durable store.
 * Jobs are visible only to their owner (an API key id, or "anonymous").
 */
public final class JobQueue {
    private static final SecureRandom SEEDS = new SecureRandom();

    private final JobStore store;
    private final ModelInfo model;
    private final FileStore files;
    private final Path dataDir;
    private final int maxQueued;
    private final int perOwnerActive;
    private final Set<String> cancelRequested = ConcurrentHashMap.newKeySet();
    private final Object wakeUp = new Object();

    private final Map<String, Integer> ownerLimits;

    /**
     * files: where jobs' files live (the data directory or the shared bucket); dataDir: this process's local directory
     * (a job's scratch files); ownerLimits: per-owner (API key id) overrides of perOwnerActive.
     */
    public JobQueue(JobStore store, ModelInfo model, FileStore files, Path dataDir, int maxQueued, int perOwnerActive,
                    Map<String, Integer> ownerLimits) {
        this.store = store;
        this.model = model;
        this.files = files;
        this.dataDir = dataDir;
        this.maxQueued = maxQueued;
        this.perOwnerActive = perOwnerActive;
        this.ownerLimits = Map.copyOf(ownerLimits);
    }

    public JobStore store() { return store; }

    public ModelInfo model() { return model; }

    /** Where jobs' files live: a job's under {@link #fileKey}{@code (id, name)}. */
    public FileStore files() { return files; }

    /** The key of a job's file: {@code jobs/<id>/<name>}. */
    public static String fileKey(String id, String name) { return jobPrefix(id) + name; }

    /** The prefix of every file of a job: {@code jobs/<id>/}. */
    public static String jobPrefix(String id) { return "jobs/" + id + "/"; }

    /** A job's local directory in this process (its scratch files; its files too while they live on local disk). */
    public Path jobDir(String id) { return dataDir.resolve("jobs").resolve(id); }

    /** Fills in the defaults (the recipe, the model's LoRA stack, a seed) and checks every LoRA name. */
    public GenerateRequest.Resolved resolve(GenerateRequest request) {
        GenerateRequest.Resolved r = request.resolve(model.defaultLoras(), SEEDS.nextLong(0, 1L << 53));
        for (GenerateRequest.LoraRef ref : r.loras()) model.loras().check(ref.name());   // copies nothing here: the worker does
        return r;
    }

    /**
     * Queues a job, or returns the one already created with the same idempotency key and body.
     * Throws {@link QueueFullException} when the queue or the owner's share is full.
     */
    public Job submit(String owner, GenerateRequest.Resolved resolved, int priority, String requestJson, String metadataJson,
                      String webhookJson, String idempotencyKey, String requestHash) {
        return enqueue(new NewJob(JobKind.VIDEO, owner, priority, requestJson, RequestJson.write(resolved, model.id()).toString(),
                metadataJson, webhookJson, idempotencyKey, requestHash));
    }

    /**
     * Queues a job of any kind whose request was already resolved (a training's resolved JSON is its
     * {@code TrainingSpec}); the same limits as videos apply, and both kinds share the device worker's queue.
     */
    public Job enqueue(NewJob job) {
        long depth = store.queueDepth();
        if (depth >= maxQueued)
            throw new QueueFullException("the queue is full (" + depth + " jobs waiting); try again later", 30);
        long active = store.countActive(job.owner());
        if (active >= ownerLimits.getOrDefault(job.owner(), perOwnerActive))
            throw new QueueFullException("this API key has " + active + " queued or running jobs, the most it may have; wait for one to finish", 10);
        Job created = store.create(job);
        synchronized (wakeUp) { wakeUp.notifyAll(); }
        return created;
    }

    /** Blocks the worker until a submission or the timeout. */
    public void awaitWork(long millis) throws InterruptedException {
        synchronized (wakeUp) { wakeUp.wait(millis); }
    }

    public Job get(String owner, String id) {
        return store.find(id).filter(j -> j.owner().equals(owner)).orElseThrow(() -> new JobNotFoundException(id));
    }

    /** The owner's job of that kind (a training id asked for as a video is not found). */
    public Job get(String owner, String id, JobKind kind) {
        Job job = get(owner, id);
        if (job.kind() != kind) throw new JobNotFoundException(id);
        return job;
    }

    public JobPage list(String owner, JobStatus status, String cursor, int limit) {
        return list(owner, status, cursor, limit, false);
    }

    /** The owner's jobs, oldest first when {@code ascending}; {@code cursor} is a nextCursor or a job id. */
    public JobPage list(String owner, JobStatus status, String cursor, int limit, boolean ascending) {
        return store.list(owner, JobKind.VIDEO, status, cursor, limit, ascending);
    }

    /** As {@link #list(String, JobStatus, String, int, boolean)} for jobs of {@code kind}. */
    public JobPage list(String owner, JobKind kind, JobStatus status, String cursor, int limit, boolean ascending) {
        return store.list(owner, kind, status, cursor, limit, ascending);
    }

    /** Cancels a queued job at once, asks a running one to stop after its current step; idempotent. */
    public Job cancel(String owner, String id) {
        Job job = get(owner, id);
        if (job.status().terminal()) return job;
        if (job.status() == JobStatus.QUEUED) {
            Job cancelled = store.cancel(id);
            if (cancelled.status() == JobStatus.CANCELLED) return cancelled;
            job = cancelled;   // claimed meanwhile: fall through
        }
        cancelRequested.add(id);
        store.requestCancel(id);
        return store.find(id).orElse(job);
    }

    /** True when the job was asked to stop (in this process or, through the store, another). */
    public boolean isCancelRequested(String id) {
        return cancelRequested.contains(id) || store.find(id).map(Job::cancelRequested).orElse(true);
    }

    public void forget(String id) { cancelRequested.remove(id); }

    /** Cancels the job if active, then removes it, its events and its files. */
    public void delete(String owner, String id) {
        Job job = get(owner, id);
        if (!job.status().terminal()) cancel(owner, id);
        store.delete(id);
        files.deleteAll(jobPrefix(id));
        deleteFiles(jobDir(id));
    }

    public static void deleteFiles(Path dir) {
        if (!Files.exists(dir)) return;
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        } catch (IOException e) {
            throw new IllegalStateException("cannot delete " + dir + ": " + e.getMessage(), e);
        }
    }
}
