package dev.kaze.jobs.store;

import dev.kaze.jobs.Checkpoint;
import dev.kaze.jobs.IdempotencyConflictException;
import dev.kaze.jobs.Job;
import dev.kaze.jobs.JobEvent;
import dev.kaze.jobs.JobEventType;
import dev.kaze.jobs.JobKind;
import dev.kaze.jobs.JobNotFoundException;
import dev.kaze.jobs.JobPage;
import dev.kaze.jobs.JobStatus;
import dev.kaze.jobs.JobStore;
import dev.kaze.jobs.JobStoreException;
import dev.kaze.jobs.JobUsage;
import dev.kaze.jobs.NewJob;
import dev.kaze.jobs.OwnerUsage;
import dev.kaze.jobs.store.Transactions.Tx;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.sql.DataSource;
import java.security.SecureRandom;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Consumer;

import static dev.kaze.jobs.store.StoreClock.instant;
import static dev.kaze.jobs.store.StoreClock.utc;

/**
 * {@link JobStore} over plain JDBC on H2 (embedded, one process) or PostgreSQL (several replicas). The schema comes
 * from the Flyway migrations in {@code db/migration/{vendor}} ({@link JobSchema}). Each method runs in its own
 * transaction ({@link Transactions}); the SQL that differs between the databases is in {@link SqlDialect}, the event
 * log and its delivery to subscribers in {@link JobEventBus}.
 */
public final class JdbcJobStore implements JobStore, AutoCloseable {
    /** A worker whose last heartbeat is older than this counts as dead: its running jobs are requeued. */
    public static final Duration DEFAULT_WORKER_TIMEOUT = Duration.ofMinutes(10);

    private static final Logger log = LoggerFactory.getLogger(JdbcJobStore.class);
    private static final String JOB_COLUMNS = "id, kind, owner, status, priority, request_json, resolved_json,"
            + " metadata_json, webhook_json, progress, stage, step, total_steps, error_json, idempotency_key,"
            + " request_hash, worker_id, cancel_requested, created_at, started_at, completed_at";
    private static final String CLAIM_ORDER = "priority DESC, created_at, id";
    private static final SecureRandom RANDOM = new SecureRandom();

    private final SqlDialect dialect;
    private final StoreClock clock;
    private final Duration workerTimeout;
    private final Transactions transactions;
    private final JobEventBus events;
    private final UsageTable usage;

    public JdbcJobStore(DataSource dataSource) {
        this(dataSource, Clock.systemUTC(), DEFAULT_WORKER_TIMEOUT);
    }

    /** The schema must already be migrated ({@link JobSchema#migrate}, or Spring Boot's Flyway at start-up). */
    public JdbcJobStore(DataSource dataSource, Clock clock, Duration workerTimeout) {
        Objects.requireNonNull(dataSource, "dataSource");
        this.clock = new StoreClock(Objects.requireNonNull(clock, "clock"));
        if (workerTimeout.isNegative() || workerTimeout.isZero())
            throw new IllegalArgumentException("worker timeout must be positive, got " + workerTimeout);
        this.workerTimeout = workerTimeout;
        this.dialect = SqlDialect.of(dataSource);
        this.transactions = new Transactions(dataSource);
        this.events = new JobEventBus(dataSource, dialect, this.clock);
        this.usage = new UsageTable(transactions, this.clock);
    }

    SqlDialect dialect() {
        return dialect;
    }

    @Override
    public Duration workerTimeout() {
        return workerTimeout;
    }

    // ---------------------------------------------------------------- usage ({@link UsageTable})

    @Override
    public void recordUsage(String id, JobUsage run) {
        usage.record(id, Objects.requireNonNull(run, "usage"));
    }

    @Override
    public Optional<JobUsage> usage(String id) {
        return id == null ? Optional.empty() : usage.find(id);
    }

    @Override
    public List<OwnerUsage> usageByOwner(String owner, Instant from, Instant to) {
        if (!from.isBefore(to)) throw new IllegalArgumentException("usage range is empty: from " + from + " is not before to " + to);
        return usage.byOwner(owner, from, to);
    }

    // ---------------------------------------------------------------- jobs

    @Override
    public Job create(NewJob n) {
        Objects.requireNonNull(n, "job");
        if (n.idempotencyKey() != null) {
            Optional<Job> existing = findByKey(n.owner(), n.idempotencyKey());
            if (existing.isPresent()) return sameRequestOrThrow(existing.get(), n);
        }
        try {
            return insert(newId(n.kind()), n);
        } catch (JobStoreException e) {
            if (n.idempotencyKey() == null || !Transactions.uniqueViolation(e.getCause())) throw e;
            // a concurrent submission with the same key won the insert; wait until its transaction is visible
            for (int i = 0; i < 100; i++) {
                Optional<Job> existing = findByKey(n.owner(), n.idempotencyKey());
                if (existing.isPresent()) return sameRequestOrThrow(existing.get(), n);
                Transactions.pause(20);
            }
            throw e;
        }
    }

    private Job insert(String id, NewJob n) {
        return transactions.run("create job", tx -> {
            try (PreparedStatement ps = tx.prepare("INSERT INTO jobs (id, kind, owner, status, priority,"
                    + " request_json, resolved_json, metadata_json, webhook_json, idempotency_key, request_hash,"
                    + " created_at, last_seq) VALUES (?, ?, ?, 'QUEUED', ?, ?, ?, ?, ?, ?, ?, ?, 0)")) {
                ps.setString(1, id);
                ps.setString(2, n.kind().name());
                ps.setString(3, n.owner());
                ps.setInt(4, n.priority());
                ps.setString(5, n.requestJson());
                ps.setString(6, n.resolvedJson());
                ps.setString(7, n.metadataJson());
                ps.setString(8, n.webhookJson());
                ps.setString(9, n.idempotencyKey());
                ps.setString(10, n.requestHash());
                ps.setObject(11, utc(clock.now()));
                ps.executeUpdate();
            }
            events.append(tx, id, "queued", EventData.queued(n.priority()));
            return selectJob(tx, id).orElseThrow();
        });
    }

    private static Job sameRequestOrThrow(Job existing, NewJob n) {
        if (Objects.equals(existing.requestHash(), n.requestHash())) return existing;
        throw new IdempotencyConflictException(n.idempotencyKey(), existing.id());
    }

    private Optional<Job> findByKey(String owner, String key) {
        return transactions.run("find job by idempotency key", tx -> {
            try (PreparedStatement ps = tx.prepare(
                    "SELECT " + JOB_COLUMNS + " FROM jobs WHERE owner = ? AND idempotency_key = ?")) {
                ps.setString(1, owner);
                ps.setString(2, key);
                try (ResultSet rs = ps.executeQuery()) {
                    return rs.next() ? Optional.of(job(rs)) : Optional.<Job>empty();
                }
            }
        });
    }

    @Override
    public Optional<Job> find(String id) {
        if (id == null) return Optional.empty();
        return transactions.run("find job " + id, tx -> selectJob(tx, id));
    }

    @Override
    public JobPage list(String owner, JobKind kind, JobStatus status, String cursor, int limit, boolean ascending) {
        if (limit < 1 || limit > 1000) throw new IllegalArgumentException("limit must be 1..1000, got " + limit);
        Cursor after = cursor == null ? null : cursorOf(owner, cursor);
        String cmp = ascending ? ">" : "<", dir = ascending ? "ASC" : "DESC";
        StringBuilder sql = new StringBuilder("SELECT " + JOB_COLUMNS + " FROM jobs WHERE 1 = 1");
        if (owner != null) sql.append(" AND owner = ?");
        if (kind != null) sql.append(" AND kind = ?");
        if (status != null) sql.append(" AND status = ?");
        if (after != null) sql.append(" AND (created_at " + cmp + " ? OR (created_at = ? AND id " + cmp + " ?))");
        sql.append(" ORDER BY created_at ").append(dir).append(", id ").append(dir).append(" LIMIT ?");
        return transactions.run("list jobs", tx -> {
            List<Job> jobs = new ArrayList<>();
            try (PreparedStatement ps = tx.prepare(sql.toString())) {
                int i = 1;
                if (owner != null) ps.setString(i++, owner);
                if (kind != null) ps.setString(i++, kind.name());
                if (status != null) ps.setString(i++, status.name());
                if (after != null) {
                    ps.setObject(i++, utc(after.createdAt()));
                    ps.setObject(i++, utc(after.createdAt()));
                    ps.setString(i++, after.id());
                }
                ps.setInt(i, limit + 1);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) jobs.add(job(rs));
                }
            }
            if (jobs.size() <= limit) return new JobPage(jobs, null);
            Job last = jobs.get(limit - 1);
            return new JobPage(jobs.subList(0, limit), new Cursor(last.createdAt(), last.id()).encode());
        });
    }

    /** A previous page's nextCursor, or the id of one of the owner's jobs (the page starts after it). */
    private Cursor cursorOf(String owner, String cursor) {
        if (JobKind.ofId(cursor) == null) return Cursor.decode(cursor);
        Job job = find(cursor).filter(j -> owner == null || owner.equals(j.owner()))
                .orElseThrow(() -> new IllegalArgumentException("no job '" + cursor + "' to list after;"
                        + " pass the id of one of your jobs or the nextCursor of the previous page"));
        return new Cursor(job.createdAt(), job.id());
    }

    @Override
    public Optional<Job> claimNext(String workerId) {
        requireWorker(workerId);
        return dialect.claiming(() -> {
            for (int attempt = 0; attempt < 100; attempt++) {
                Optional<Job> claimed = transactions.run("claim next job", tx -> claim(tx, workerId));
                if (claimed != null) return claimed;
            }
            throw new JobStoreException("could not claim a job after 100 tries:"
                    + " other workers keep taking the same one", null);
        });
    }

    /** The claimed job, empty when the queue is empty, or null when another store took the job first. */
    private Optional<Job> claim(Tx tx, String workerId) throws SQLException {
        String id;
        try (PreparedStatement ps = tx.prepare("SELECT id FROM jobs WHERE status = 'QUEUED'"
                + " ORDER BY " + CLAIM_ORDER + " LIMIT 1" + dialect.claimLockClause());
             ResultSet rs = ps.executeQuery()) {
            if (!rs.next()) return Optional.empty();
            id = rs.getString(1);
        }
        Instant now = clock.now();
        try (PreparedStatement ps = tx.prepare("UPDATE jobs SET status = 'IN_PROGRESS',"
                + " worker_id = ?, started_at = ?, cancel_requested = FALSE WHERE id = ? AND status = 'QUEUED'")) {
            ps.setString(1, workerId);
            ps.setObject(2, utc(now));
            ps.setString(3, id);
            // another store on the same H2 database took it between our read and this update
            if (ps.executeUpdate() == 0) return null;
        }
        events.append(tx, id, "started", EventData.started(workerId));
        upsertHeartbeat(tx, workerId, now);
        return selectJob(tx, id);
    }

    @Override
    public void updateProgress(String id, int progress, String stage, int step, int totalSteps) {
        if (progress < 0 || progress > 100)
            throw new IllegalArgumentException("progress is a percentage 0..100, got " + progress);
        if (step < 0 || totalSteps < 0)
            throw new IllegalArgumentException("step and totalSteps must not be negative, got " + step + "/" + totalSteps);
        transactions.run("update progress of job " + id, tx -> {
            try (PreparedStatement ps = tx.prepare("UPDATE jobs SET progress = GREATEST(progress, ?),"
                    + " stage = ?, step = ?, total_steps = ? WHERE id = ? AND status IN ('QUEUED', 'IN_PROGRESS')")) {
                ps.setInt(1, progress);
                ps.setString(2, stage);
                ps.setInt(3, step);
                ps.setInt(4, totalSteps);
                ps.setString(5, id);
                if (ps.executeUpdate() == 0) {
                    // a finished job keeps its final progress; an unknown one is an error
                    requireJob(tx, id);
                    return null;
                }
            }
            try (PreparedStatement ps = tx.prepare("UPDATE job_workers SET heartbeat_at = ?"
                    + " WHERE id = (SELECT worker_id FROM jobs WHERE id = ?)")) {
                ps.setObject(1, utc(clock.now()));
                ps.setString(2, id);
                ps.executeUpdate();
            }
            return null;
        });
    }

    // ---------------------------------------------------------------- events

    @Override
    public JobEvent appendEvent(String id, String type, String dataJson) {
        if (type == null || type.isBlank() || type.length() > 64)
            throw new IllegalArgumentException("event type must be 1..64 characters, got '" + type + "'");
        return transactions.run("append event to job " + id, tx -> events.append(tx, id, type, dataJson));
    }

    @Override
    public List<JobEvent> events(String id, long afterSeq) {
        return transactions.run("read events of job " + id, tx -> events.events(tx, id, afterSeq));
    }

    @Override
    public List<JobEvent> webhookEventsSince(Instant since, JobEvent after, int limit) {
        Objects.requireNonNull(since, "since");
        if (limit < 1 || limit > 10_000) throw new IllegalArgumentException("limit must be 1..10000, got " + limit);
        List<String> types = JobEventType.webhookNames();
        String sql = "SELECT e.job_id, e.seq, e.type, e.data_json, e.at FROM job_events e JOIN jobs j ON j.id = e.job_id"
                + " WHERE j.webhook_json IS NOT NULL AND e.at >= ? AND e.type IN ("
                + String.join(", ", Collections.nCopies(types.size(), "?")) + ")"
                + (after == null ? "" : " AND (e.job_id > ? OR (e.job_id = ? AND e.seq > ?))")
                + " ORDER BY e.job_id, e.seq LIMIT ?";
        return transactions.run("read webhook events since " + since, tx -> {
            try (PreparedStatement ps = tx.prepare(sql)) {
                int i = 1;
                ps.setObject(i++, utc(since));
                for (String type : types) ps.setString(i++, type);
                if (after != null) {
                    ps.setString(i++, after.jobId());
                    ps.setString(i++, after.jobId());
                    ps.setLong(i++, after.seq());
                }
                ps.setInt(i, limit);
                List<JobEvent> out = new ArrayList<>();
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        out.add(new JobEvent(rs.getString(1), rs.getLong(2), rs.getString(3), rs.getString(4), instant(rs, 5)));
                    }
                }
                return out;
            }
        });
    }

    @Override
    public AutoCloseable subscribe(Consumer<JobEvent> listener) {
        return events.subscribe(listener);
    }

    /** Stops the event delivery thread and releases its connection; the DataSource stays open (its owner closes it). */
    @Override
    public void close() {
        events.close();
    }

    // ---------------------------------------------------------------- terminal transitions

    @Override
    public Job complete(String id, String resolvedJson) {
        return finish(id, JobStatus.COMPLETED, resolvedJson, null, "completed", EventData.completed());
    }

    @Override
    public Job fail(String id, String errorJson) {
        return finish(id, JobStatus.FAILED, null, errorJson, "failed", EventData.failed(errorJson));
    }

    @Override
    public Job cancel(String id) {
        return finish(id, JobStatus.CANCELLED, null, null, "cancelled", EventData.cancelled());
    }

    /** A queued or running job becomes {@code to} with event {@code type}; a finished one stays as it is. */
    private Job finish(String id, JobStatus to, String resolvedJson, String errorJson, String type, String data) {
        return transactions.run(type + " job " + id, tx -> {
            try (PreparedStatement ps = tx.prepare("UPDATE jobs SET status = ?, completed_at = ?,"
                    + " resolved_json = COALESCE(?, resolved_json), error_json = COALESCE(?, error_json),"
                    + " progress = CASE WHEN ? THEN 100 ELSE progress END"
                    + " WHERE id = ? AND status IN ('QUEUED', 'IN_PROGRESS')")) {
                ps.setString(1, to.name());
                ps.setObject(2, utc(clock.now()));
                ps.setString(3, resolvedJson);
                ps.setString(4, errorJson);
                ps.setBoolean(5, to == JobStatus.COMPLETED);
                ps.setString(6, id);
                if (ps.executeUpdate() == 1) events.append(tx, id, type, data);
                else requireJob(tx, id); // already terminal: unchanged, no event
            }
            return selectJob(tx, id).orElseThrow(() -> new JobNotFoundException(id));
        });
    }

    @Override
    public boolean requestCancel(String id) {
        return transactions.run("request cancel of job " + id, tx -> {
            try (PreparedStatement ps = tx.prepare("UPDATE jobs SET cancel_requested = TRUE"
                    + " WHERE id = ? AND status = 'IN_PROGRESS' AND cancel_requested = FALSE")) {
                ps.setString(1, id);
                if (ps.executeUpdate() == 1) {
                    events.append(tx, id, "cancel_requested", EventData.cancelRequested());
                    return true;
                }
            }
            Optional<Job> job = selectJob(tx, id);
            return job.isPresent() && job.get().status() == JobStatus.IN_PROGRESS && job.get().cancelRequested();
        });
    }

    @Override
    public boolean delete(String id) {
        return transactions.run("delete job " + id, tx -> {
            // events and checkpoint go with it (ON DELETE CASCADE)
            try (PreparedStatement ps = tx.prepare("DELETE FROM jobs WHERE id = ?")) {
                ps.setString(1, id);
                return ps.executeUpdate() == 1;
            }
        });
    }

    // ---------------------------------------------------------------- counts

    @Override
    public long countActive(String owner) {
        return count("SELECT COUNT(*) FROM jobs WHERE owner = ? AND status IN ('QUEUED', 'IN_PROGRESS')", owner);
    }

    @Override
    public long queueDepth() {
        return count("SELECT COUNT(*) FROM jobs WHERE status = 'QUEUED'", null);
    }

    private long count(String sql, String arg) {
        return transactions.run("count jobs", tx -> {
            try (PreparedStatement ps = tx.prepare(sql)) {
                if (arg != null) ps.setString(1, arg);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    return rs.getLong(1);
                }
            }
        });
    }

    @Override
    public Integer queuePosition(String id) {
        return transactions.run("queue position of job " + id, tx -> {
            try (PreparedStatement ps = tx.prepare("SELECT (SELECT COUNT(*) FROM jobs q"
                    + " WHERE q.status = 'QUEUED' AND (q.priority > j.priority OR (q.priority = j.priority"
                    + " AND (q.created_at < j.created_at OR (q.created_at = j.created_at AND q.id < j.id)))))"
                    + " FROM jobs j WHERE j.id = ? AND j.status = 'QUEUED'")) {
                ps.setString(1, id);
                try (ResultSet rs = ps.executeQuery()) {
                    return rs.next() ? Math.toIntExact(rs.getLong(1)) : null;
                }
            }
        });
    }

    // ---------------------------------------------------------------- workers

    /** A running job whose worker may be gone, as seen before requeueing it. */
    private record Interrupted(String id, String workerId, boolean cancelRequested) {}

    @Override
    public int requeueInterrupted(String workerId) {
        int requeued = requeue(workerId, true);
        if (requeued > 0) log.info("requeued {} interrupted job(s) on start-up of worker {}", requeued, workerId);
        return requeued;
    }

    @Override
    public int requeueAbandoned(String workerId) {
        return requeue(workerId, false);
    }

    /**
     * Requeues the running jobs of dead workers (no heartbeat within the timeout, or none recorded), and of
     * {@code workerId} itself when {@code own}; records a heartbeat for {@code workerId} first.
     */
    private int requeue(String workerId, boolean own) {
        requireWorker(workerId);
        heartbeat(workerId);
        Instant deadBefore = clock.now().minus(workerTimeout);
        String whose = own ? "worker_id = ? OR " : "worker_id <> ? AND ";
        List<Interrupted> found = transactions.run("find interrupted jobs", tx -> {
            List<Interrupted> out = new ArrayList<>();
            try (PreparedStatement ps = tx.prepare("SELECT id, worker_id, cancel_requested FROM jobs j"
                    + " WHERE status = 'IN_PROGRESS' AND (worker_id IS NULL OR " + whose + "NOT EXISTS"
                    + " (SELECT 1 FROM job_workers w WHERE w.id = j.worker_id AND w.heartbeat_at >= ?))"
                    + " ORDER BY " + CLAIM_ORDER)) {
                ps.setString(1, workerId);
                ps.setObject(2, utc(deadBefore));
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) out.add(new Interrupted(rs.getString(1), rs.getString(2), rs.getBoolean(3)));
                }
            }
            return out;
        });
        int requeued = 0;
        for (Interrupted job : found) {
            // a job of another worker is requeued only if that worker is still silent now
            Instant silentSince = workerId.equals(job.workerId()) ? null : deadBefore;
            if (!transactions.run("requeue job " + job.id(), tx -> requeue(tx, job, silentSince))) continue;
            requeued++;
            if (!workerId.equals(job.workerId()))
                log.info("requeued job {} of worker {} (no heartbeat for {} or more) from worker {}",
                        job.id(), job.workerId(), workerTimeout, workerId);
        }
        return requeued;
    }

    /**
     * Puts the job back in the queue, or cancels it when a cancel was requested; true when it was requeued.
     * Guarded by the worker seen before, so a job re-claimed meanwhile is left alone, and, when {@code silentSince}
     * is not null, by that worker having had no heartbeat since then, so a worker that came back keeps its job.
     */
    private boolean requeue(Tx tx, Interrupted job, Instant silentSince) throws SQLException {
        String set = job.cancelRequested()
                ? "status = 'CANCELLED', completed_at = ?"
                : "status = 'QUEUED', worker_id = NULL, started_at = NULL, cancel_requested = FALSE";
        try (PreparedStatement ps = tx.prepare("UPDATE jobs SET " + set
                + " WHERE id = ? AND status = 'IN_PROGRESS' AND worker_id IS NOT DISTINCT FROM ?"
                + (silentSince == null ? "" : " AND NOT EXISTS (SELECT 1 FROM job_workers w"
                + " WHERE w.id = jobs.worker_id AND w.heartbeat_at >= ?)"))) {
            int i = 1;
            if (job.cancelRequested()) ps.setObject(i++, utc(clock.now()));
            ps.setString(i++, job.id());
            if (job.workerId() == null) ps.setNull(i++, Types.VARCHAR);
            else ps.setString(i++, job.workerId());
            if (silentSince != null) ps.setObject(i, utc(silentSince));
            if (ps.executeUpdate() == 0) return false;
        }
        if (job.cancelRequested()) {
            events.append(tx, job.id(), "cancelled", EventData.cancelled());
            return false;
        }
        events.append(tx, job.id(), "requeued", EventData.requeued(job.workerId()));
        return true;
    }

    @Override
    public void heartbeat(String workerId) {
        requireWorker(workerId);
        transactions.run("heartbeat of worker " + workerId, tx -> {
            upsertHeartbeat(tx, workerId, clock.now());
            return null;
        });
    }

    private void upsertHeartbeat(Tx tx, String workerId, Instant at) throws SQLException {
        try (PreparedStatement ps = tx.prepare(dialect.upsertHeartbeat())) {
            ps.setString(1, workerId);
            ps.setObject(2, utc(at));
            ps.executeUpdate();
        }
    }

    private static void requireWorker(String workerId) {
        if (workerId == null || workerId.isBlank() || workerId.length() > 200)
            throw new IllegalArgumentException("worker id must be 1..200 characters, got '" + workerId + "'");
    }

    // ---------------------------------------------------------------- checkpoints

    @Override
    public void saveCheckpoint(String id, int step, byte[] state) {
        Objects.requireNonNull(state, "checkpoint state");
        transactions.run("save checkpoint of job " + id, tx -> {
            requireJob(tx, id);
            try (PreparedStatement ps = tx.prepare(dialect.upsertCheckpoint())) {
                ps.setString(1, id);
                ps.setInt(2, step);
                ps.setBytes(3, state);
                ps.setObject(4, utc(clock.now()));
                ps.executeUpdate();
            }
            return null;
        });
    }

    @Override
    public Optional<Checkpoint> checkpoint(String id) {
        return transactions.run("read checkpoint of job " + id, tx -> {
            try (PreparedStatement ps = tx.prepare("SELECT step, state, at FROM job_checkpoints WHERE job_id = ?")) {
                ps.setString(1, id);
                try (ResultSet rs = ps.executeQuery()) {
                    if (!rs.next()) return Optional.<Checkpoint>empty();
                    return Optional.of(new Checkpoint(id, rs.getInt(1), rs.getBytes(2), instant(rs, 3)));
                }
            }
        });
    }

    // ---------------------------------------------------------------- rows

    private static void requireJob(Tx tx, String id) throws SQLException {
        try (PreparedStatement ps = tx.prepare("SELECT status FROM jobs WHERE id = ?")) {
            ps.setString(1, id);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) throw new JobNotFoundException(id);
            }
        }
    }

    private static Optional<Job> selectJob(Tx tx, String id) throws SQLException {
        try (PreparedStatement ps = tx.prepare("SELECT " + JOB_COLUMNS + " FROM jobs WHERE id = ?")) {
            ps.setString(1, id);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(job(rs)) : Optional.empty();
            }
        }
    }

    private static Job job(ResultSet rs) throws SQLException {
        return new Job(rs.getString(1), JobKind.valueOf(rs.getString(2)), rs.getString(3),
                JobStatus.valueOf(rs.getString(4)), rs.getInt(5), rs.getString(6), rs.getString(7),
                rs.getString(8), rs.getString(9), rs.getInt(10), rs.getString(11), rs.getInt(12), rs.getInt(13),
                rs.getString(14), rs.getString(15), rs.getString(16), rs.getString(17), rs.getBoolean(18),
                instant(rs, 19), instant(rs, 20), instant(rs, 21));
    }

    /** kind prefix + 22 URL-safe characters (128 random bits). */
    private static String newId(JobKind kind) {
        byte[] bytes = new byte[16];
        RANDOM.nextBytes(bytes);
        return kind.idPrefix() + Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }
}
