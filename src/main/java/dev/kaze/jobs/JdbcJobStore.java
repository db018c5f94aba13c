package dev.kaze.jobs;

import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.sql.DataSource;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * {@link JobStore} over plain JDBC on H2 (embedded, one process) or PostgreSQL (several replicas). The schema comes
 * from the Flyway migrations in {@code db/migration/{vendor}} ({@link JobSchema}). Each method runs in its own
 * transaction (READ COMMITTED) and is retried a few times on serialization failures and deadlocks.
 *
 * <p>Where the two databases differ: PostgreSQL claims with {@code FOR UPDATE SKIP LOCKED} and announces every event
 * with {@code pg_notify} so subscribers in every process see it; H2 (whose SKIP LOCKED counts skipped rows against
 * LIMIT) claims under a lock of this store and a guarded update, and delivers events to this store's subscribers only.
 */
public final class JdbcJobStore implements JobStore, AutoCloseable {
    /** A worker whose last heartbeat is older than this is considered dead by {@link #requeueInterrupted}. */
    public static final Duration DEFAULT_WORKER_TIMEOUT = Duration.ofMinutes(10);
    /** PostgreSQL NOTIFY channel; the payload is "jobId seq". */
    public static final String CHANNEL = "kaze_job_events";

    private static final Logger log = LoggerFactory.getLogger(JdbcJobStore.class);
    private static final String JOB_COLUMNS = "id, kind, owner, status, priority, request_json, resolved_json,"
            + " metadata_json, webhook_json, progress, stage, step, total_steps, error_json, idempotency_key,"
            + " request_hash, worker_id, cancel_requested, created_at, started_at, completed_at";
    private static final String CLAIM_ORDER = "priority DESC, created_at, id";
    private static final int MAX_ATTEMPTS = 6;
    private static final SecureRandom RANDOM = new SecureRandom();

    enum Dialect { H2, POSTGRESQL }

    private final DataSource dataSource;
    private final Dialect dialect;
    private final Clock clock;
    private final Duration workerTimeout;
    private final AtomicLong lastMicros = new AtomicLong();
    private final ReentrantLock claimLock = new ReentrantLock();
    private final List<Consumer<JobEvent>> listeners = new CopyOnWriteArrayList<>();
    private final Object deliveryLock = new Object();
    private ExecutorService localDelivery;          // H2: one thread delivering this store's events
    private Thread notificationListener;            // PostgreSQL: one thread LISTENing on its own connection
    private volatile boolean closed;

    public JdbcJobStore(DataSource dataSource) {
        this(dataSource, Clock.systemUTC(), DEFAULT_WORKER_TIMEOUT);
    }

    /** The schema must already be migrated ({@link JobSchema#migrate}, or Spring Boot's Flyway at start-up). */
    public JdbcJobStore(DataSource dataSource, Clock clock, Duration workerTimeout) {
        this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
        this.clock = Objects.requireNonNull(clock, "clock");
        if (workerTimeout.isNegative() || workerTimeout.isZero())
            throw new IllegalArgumentException("worker timeout must be positive, got " + workerTimeout);
        this.workerTimeout = workerTimeout;
        this.dialect = switch (JobSchema.vendor(dataSource)) {
            case "postgresql" -> Dialect.POSTGRESQL;
            default -> Dialect.H2;
        };
    }

    Dialect dialect() {
        return dialect;
    }

    public Duration workerTimeout() {
        return workerTimeout;
    }

    // ---------------------------------------------------------------- jobs

    @Override
    public Job create(NewJob n) {
        Objects.requireNonNull(n, "job");
        if (n.idempotencyKey() != null) {
            Optional<Job> existing = findByKey(n.owner(), n.idempotencyKey());
            if (existing.isPresent()) return sameRequestOrThrow(existing.get(), n);
        }
        String id = newId(n.kind());
        try {
            return inTx("create job", tx -> {
                Instant now = now();
                try (PreparedStatement ps = tx.c.prepareStatement("INSERT INTO jobs (id, kind, owner, status, priority,"
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
                    ps.setObject(11, utc(now));
                    ps.executeUpdate();
                }
                append(tx, id, "queued", "{\"status\":\"QUEUED\",\"priority\":" + n.priority() + "}");
                return selectJob(tx.c, id).orElseThrow();
            });
        } catch (JobStoreException e) {
            if (n.idempotencyKey() == null || !uniqueViolation(e.getCause())) throw e;
            // a concurrent submission with the same key won the insert; wait until its transaction is visible
            for (int i = 0; i < 100; i++) {
                Optional<Job> existing = findByKey(n.owner(), n.idempotencyKey());
                if (existing.isPresent()) return sameRequestOrThrow(existing.get(), n);
                sleep(20);
            }
            throw e;
        }
    }

    private static Job sameRequestOrThrow(Job existing, NewJob n) {
        if (Objects.equals(existing.requestHash(), n.requestHash())) return existing;
        throw new IdempotencyConflictException(n.idempotencyKey(), existing.id());
    }

    private Optional<Job> findByKey(String owner, String key) {
        return inTx("find job by idempotency key", tx -> {
            try (PreparedStatement ps = tx.c.prepareStatement(
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
        return inTx("find job " + id, tx -> selectJob(tx.c, id));
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
        return inTx("list jobs", tx -> {
            List<Job> jobs = new ArrayList<>();
            try (PreparedStatement ps = tx.c.prepareStatement(sql.toString())) {
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

    @Override
    public Optional<Job> claimNext(String workerId) {
        requireWorker(workerId);
        if (dialect == Dialect.POSTGRESQL) return claim(workerId, " FOR UPDATE SKIP LOCKED");
        claimLock.lock();
        try {
            return claim(workerId, "");
        } finally {
            claimLock.unlock();
        }
    }

    private Optional<Job> claim(String workerId, String lockClause) {
        for (int attempt = 0; attempt < 100; attempt++) {
            Optional<Job> claimed = inTx("claim next job", tx -> {
                String id;
                try (PreparedStatement ps = tx.c.prepareStatement("SELECT id FROM jobs WHERE status = 'QUEUED'"
                        + " ORDER BY " + CLAIM_ORDER + " LIMIT 1" + lockClause);
                     ResultSet rs = ps.executeQuery()) {
                    if (!rs.next()) return Optional.empty();
                    id = rs.getString(1);
                }
                Instant now = now();
                try (PreparedStatement ps = tx.c.prepareStatement("UPDATE jobs SET status = 'IN_PROGRESS',"
                        + " worker_id = ?, started_at = ?, cancel_requested = FALSE WHERE id = ? AND status = 'QUEUED'")) {
                    ps.setString(1, workerId);
                    ps.setObject(2, utc(now));
                    ps.setString(3, id);
                    // another store on the same H2 database took it between our read and this update
                    if (ps.executeUpdate() == 0) return null;
                }
                append(tx, id, "started", "{\"status\":\"IN_PROGRESS\",\"workerId\":" + jsonString(workerId) + "}");
                upsertHeartbeat(tx.c, workerId, now);
                return selectJob(tx.c, id);
            });
            if (claimed != null) return claimed;
        }
        throw new JobStoreException("could not claim a job after 100 tries: other workers keep taking the same one", null);
    }

    @Override
    public void updateProgress(String id, int progress, String stage, int step, int totalSteps) {
        if (progress < 0 || progress > 100)
            throw new IllegalArgumentException("progress is a percentage 0..100, got " + progress);
        if (step < 0 || totalSteps < 0)
            throw new IllegalArgumentException("step and totalSteps must not be negative, got " + step + "/" + totalSteps);
        inTx("update progress of job " + id, tx -> {
            try (PreparedStatement ps = tx.c.prepareStatement("UPDATE jobs SET progress = GREATEST(progress, ?),"
                    + " stage = ?, step = ?, total_steps = ? WHERE id = ? AND status IN ('QUEUED', 'IN_PROGRESS')")) {
                ps.setInt(1, progress);
                ps.setString(2, stage);
                ps.setInt(3, step);
                ps.setInt(4, totalSteps);
                ps.setString(5, id);
                if (ps.executeUpdate() == 0) {
                    // a finished job keeps its final progress; an unknown one is an error
                    requireStatus(tx.c, id);
                    return null;
                }
            }
            try (PreparedStatement ps = tx.c.prepareStatement("UPDATE job_workers SET heartbeat_at = ?"
                    + " WHERE id = (SELECT worker_id FROM jobs WHERE id = ?)")) {
                ps.setObject(1, utc(now()));
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
        return inTx("append event to job " + id, tx -> append(tx, id, type, dataJson));
    }

    /** Next seq from the job row (its row lock orders concurrent appends), the event row and, on PostgreSQL, NOTIFY. */
    private JobEvent append(Tx tx, String id, String type, String dataJson) throws SQLException {
        try (PreparedStatement ps = tx.c.prepareStatement("UPDATE jobs SET last_seq = last_seq + 1 WHERE id = ?")) {
            ps.setString(1, id);
            if (ps.executeUpdate() == 0) throw new JobNotFoundException(id);
        }
        long seq;
        try (PreparedStatement ps = tx.c.prepareStatement("SELECT last_seq FROM jobs WHERE id = ?")) {
            ps.setString(1, id);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                seq = rs.getLong(1);
            }
        }
        JobEvent event = new JobEvent(id, seq, type, dataJson, now());
        try (PreparedStatement ps = tx.c.prepareStatement(
                "INSERT INTO job_events (job_id, seq, type, data_json, at) VALUES (?, ?, ?, ?, ?)")) {
            ps.setString(1, id);
            ps.setLong(2, seq);
            ps.setString(3, type);
            ps.setString(4, dataJson);
            ps.setObject(5, utc(event.at()));
            ps.executeUpdate();
        }
        if (dialect == Dialect.POSTGRESQL) {
            try (PreparedStatement ps = tx.c.prepareStatement("SELECT pg_notify(?, ?)")) {
                ps.setString(1, CHANNEL);
                ps.setString(2, id + " " + seq);
                ps.execute();
            }
        }
        tx.appended.add(event);
        return event;
    }

    @Override
    public List<JobEvent> events(String id, long afterSeq) {
        return inTx("read events of job " + id, tx -> {
            List<JobEvent> out = new ArrayList<>();
            try (PreparedStatement ps = tx.c.prepareStatement("SELECT job_id, seq, type, data_json, at FROM job_events"
                    + " WHERE job_id = ? AND seq > ? ORDER BY seq")) {
                ps.setString(1, id);
                ps.setLong(2, afterSeq);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) out.add(event(rs));
                }
            }
            return out;
        });
    }

    private Optional<JobEvent> event(Connection c, String id, long seq) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(
                "SELECT job_id, seq, type, data_json, at FROM job_events WHERE job_id = ? AND seq = ?")) {
            ps.setString(1, id);
            ps.setLong(2, seq);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(event(rs)) : Optional.empty();
            }
        }
    }

    // ---------------------------------------------------------------- terminal transitions

    @Override
    public Job complete(String id, String resolvedJson) {
        return finish(id, JobStatus.COMPLETED, resolvedJson, null, "completed", "{\"status\":\"COMPLETED\"}");
    }

    @Override
    public Job fail(String id, String errorJson) {
        String data = "{\"status\":\"FAILED\"" + (errorJson == null ? "" : ",\"error\":" + embed(errorJson)) + "}";
        return finish(id, JobStatus.FAILED, null, errorJson, "failed", data);
    }

    @Override
    public Job cancel(String id) {
        return finish(id, JobStatus.CANCELLED, null, null, "cancelled", "{\"status\":\"CANCELLED\"}");
    }

    private Job finish(String id, JobStatus to, String resolvedJson, String errorJson, String type, String data) {
        return inTx(type + " job " + id, tx -> {
            try (PreparedStatement ps = tx.c.prepareStatement("UPDATE jobs SET status = ?, completed_at = ?,"
                    + " resolved_json = COALESCE(?, resolved_json), error_json = COALESCE(?, error_json),"
                    + " progress = CASE WHEN ? THEN 100 ELSE progress END"
                    + " WHERE id = ? AND status IN ('QUEUED', 'IN_PROGRESS')")) {
                ps.setString(1, to.name());
                ps.setObject(2, utc(now()));
                ps.setString(3, resolvedJson);
                ps.setString(4, errorJson);
                ps.setBoolean(5, to == JobStatus.COMPLETED);
                ps.setString(6, id);
                if (ps.executeUpdate() == 1) append(tx, id, type, data);
                else requireStatus(tx.c, id); // already terminal: unchanged, no event
            }
            return selectJob(tx.c, id).orElseThrow(() -> new JobNotFoundException(id));
        });
    }

    @Override
    public boolean requestCancel(String id) {
        return inTx("request cancel of job " + id, tx -> {
            try (PreparedStatement ps = tx.c.prepareStatement("UPDATE jobs SET cancel_requested = TRUE"
                    + " WHERE id = ? AND status = 'IN_PROGRESS' AND cancel_requested = FALSE")) {
                ps.setString(1, id);
                if (ps.executeUpdate() == 1) {
                    append(tx, id, "cancel_requested", "{\"cancelRequested\":true}");
                    return true;
                }
            }
            Optional<Job> job = selectJob(tx.c, id);
            return job.isPresent() && job.get().status() == JobStatus.IN_PROGRESS && job.get().cancelRequested();
        });
    }

    @Override
    public boolean delete(String id) {
        return inTx("delete job " + id, tx -> {
            // events and checkpoint go with it (ON DELETE CASCADE)
            try (PreparedStatement ps = tx.c.prepareStatement("DELETE FROM jobs WHERE id = ?")) {
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
        return inTx("count jobs", tx -> {
            try (PreparedStatement ps = tx.c.prepareStatement(sql)) {
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
        return inTx("queue position of job " + id, tx -> {
            try (PreparedStatement ps = tx.c.prepareStatement("SELECT (SELECT COUNT(*) FROM jobs q"
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

    @Override
    public int requeueInterrupted(String workerId) {
        requireWorker(workerId);
        heartbeat(workerId);
        Instant deadBefore = now().minus(workerTimeout);
        record Interrupted(String id, String workerId, boolean cancelRequested) {}
        List<Interrupted> found = inTx("find interrupted jobs", tx -> {
            List<Interrupted> out = new ArrayList<>();
            try (PreparedStatement ps = tx.c.prepareStatement("SELECT id, worker_id, cancel_requested FROM jobs j"
                    + " WHERE status = 'IN_PROGRESS' AND (worker_id = ? OR worker_id IS NULL OR NOT EXISTS"
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
            boolean done = inTx("requeue job " + job.id(), tx -> {
                // guarded by the worker we saw, so a job re-claimed meanwhile is left alone
                String set = job.cancelRequested()
                        ? "status = 'CANCELLED', completed_at = ?"
                        : "status = 'QUEUED', worker_id = NULL, started_at = NULL, cancel_requested = FALSE";
                try (PreparedStatement ps = tx.c.prepareStatement("UPDATE jobs SET " + set
                        + " WHERE id = ? AND status = 'IN_PROGRESS' AND worker_id IS NOT DISTINCT FROM ?")) {
                    int i = 1;
                    if (job.cancelRequested()) ps.setObject(i++, utc(now()));
                    ps.setString(i++, job.id());
                    if (job.workerId() == null) ps.setNull(i, Types.VARCHAR);
                    else ps.setString(i, job.workerId());
                    if (ps.executeUpdate() == 0) return false;
                }
                if (job.cancelRequested()) {
                    append(tx, job.id(), "cancelled", "{\"status\":\"CANCELLED\"}");
                    return false;
                }
                append(tx, job.id(), "requeued", "{\"status\":\"QUEUED\",\"previousWorkerId\":"
                        + (job.workerId() == null ? "null" : jsonString(job.workerId())) + "}");
                return true;
            });
            if (done) requeued++;
        }
        if (requeued > 0) log.info("requeued {} interrupted job(s) on start-up of worker {}", requeued, workerId);
        return requeued;
    }

    @Override
    public void heartbeat(String workerId) {
        requireWorker(workerId);
        inTx("heartbeat of worker " + workerId, tx -> {
            upsertHeartbeat(tx.c, workerId, now());
            return null;
        });
    }

    private void upsertHeartbeat(Connection c, String workerId, Instant at) throws SQLException {
        String sql = dialect == Dialect.POSTGRESQL
                ? "INSERT INTO job_workers (id, heartbeat_at) VALUES (?, ?)"
                  + " ON CONFLICT (id) DO UPDATE SET heartbeat_at = EXCLUDED.heartbeat_at"
                : "MERGE INTO job_workers (id, heartbeat_at) KEY (id) VALUES (?, ?)";
        try (PreparedStatement ps = c.prepareStatement(sql)) {
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
        String sql = dialect == Dialect.POSTGRESQL
                ? "INSERT INTO job_checkpoints (job_id, step, state, at) VALUES (?, ?, ?, ?) ON CONFLICT (job_id)"
                  + " DO UPDATE SET step = EXCLUDED.step, state = EXCLUDED.state, at = EXCLUDED.at"
                : "MERGE INTO job_checkpoints (job_id, step, state, at) KEY (job_id) VALUES (?, ?, ?, ?)";
        inTx("save checkpoint of job " + id, tx -> {
            requireStatus(tx.c, id);
            try (PreparedStatement ps = tx.c.prepareStatement(sql)) {
                ps.setString(1, id);
                ps.setInt(2, step);
                ps.setBytes(3, state);
                ps.setObject(4, utc(now()));
                ps.executeUpdate();
            }
            return null;
        });
    }

    @Override
    public Optional<Checkpoint> checkpoint(String id) {
        return inTx("read checkpoint of job " + id, tx -> {
            try (PreparedStatement ps = tx.c.prepareStatement(
                    "SELECT step, state, at FROM job_checkpoints WHERE job_id = ?")) {
                ps.setString(1, id);
                try (ResultSet rs = ps.executeQuery()) {
                    if (!rs.next()) return Optional.<Checkpoint>empty();
                    return Optional.of(new Checkpoint(id, rs.getInt(1), rs.getBytes(2), instant(rs, 3)));
                }
            }
        });
    }

    // ---------------------------------------------------------------- subscriptions

    @Override
    public AutoCloseable subscribe(Consumer<JobEvent> listener) {
        Objects.requireNonNull(listener, "listener");
        if (closed) throw new IllegalStateException("the job store is closed");
        listeners.add(listener);
        try {
            startDelivery();
        } catch (RuntimeException e) {
            listeners.remove(listener);
            throw e;
        }
        return () -> listeners.remove(listener);
    }

    private void startDelivery() {
        synchronized (deliveryLock) {
            if (dialect == Dialect.H2) {
                if (localDelivery == null)
                    localDelivery = Executors.newSingleThreadExecutor(Thread.ofPlatform().daemon()
                            .name("kaze-job-events").factory());
                return;
            }
            if (notificationListener != null) return;
            CountDownLatch listening = new CountDownLatch(1);
            notificationListener = Thread.ofPlatform().daemon().name("kaze-job-events-listen")
                    .start(() -> listenLoop(listening));
            try {
                if (!listening.await(15, TimeUnit.SECONDS))
                    throw new JobStoreException("could not LISTEN on PostgreSQL channel " + CHANNEL
                            + " within 15 s; is the database reachable and the connection pool not exhausted?", null);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new JobStoreException("interrupted while starting to LISTEN on " + CHANNEL, e);
            }
        }
    }

    /** PostgreSQL: holds one connection LISTENing, re-reads each notified event and hands it to the listeners. */
    private void listenLoop(CountDownLatch listening) {
        while (!closed) {
            try (Connection c = dataSource.getConnection()) {
                c.setAutoCommit(true);
                try (Statement st = c.createStatement()) {
                    st.execute("LISTEN " + CHANNEL);
                }
                PGConnection pg = c.unwrap(PGConnection.class);
                listening.countDown();
                while (!closed) {
                    PGNotification[] notes = pg.getNotifications(500);
                    if (notes == null) continue;
                    for (PGNotification note : notes) {
                        String[] parts = note.getParameter().split(" ", 2);
                        if (parts.length != 2) continue;
                        // the job may have been deleted since; then there is nothing to deliver
                        event(c, parts[0], Long.parseLong(parts[1])).ifPresent(this::deliver);
                    }
                }
            } catch (SQLException | RuntimeException e) {
                if (closed) return;
                log.warn("job event listener lost its PostgreSQL connection ({}); reconnecting in 1 s."
                        + " Events appended meanwhile are not pushed but stay readable with events()", e.toString());
                sleep(1000);
            }
        }
    }

    private void publishLocally(List<JobEvent> appended) {
        if (dialect != Dialect.H2 || appended.isEmpty() || listeners.isEmpty()) return;
        ExecutorService delivery;
        synchronized (deliveryLock) {
            delivery = localDelivery;
        }
        if (delivery == null || delivery.isShutdown()) return;
        try {
            delivery.execute(() -> appended.forEach(this::deliver));
        } catch (java.util.concurrent.RejectedExecutionException ignored) {
            // closing
        }
    }

    private void deliver(JobEvent event) {
        for (Consumer<JobEvent> l : listeners) {
            try {
                l.accept(event);
            } catch (RuntimeException e) {
                log.warn("job event listener {} failed on {} #{}: {}", l, event.jobId(), event.seq(), e.toString());
            }
        }
    }

    /** Stops the event delivery thread and releases its connection; the DataSource stays open (its owner closes it). */
    @Override
    public void close() {
        closed = true;
        listeners.clear();
        Thread listener;
        ExecutorService delivery;
        synchronized (deliveryLock) {
            listener = notificationListener;
            delivery = localDelivery;
        }
        if (delivery != null) delivery.shutdown();
        if (listener != null) {
            try {
                listener.join(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (delivery != null) {
            try {
                delivery.awaitTermination(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    // ---------------------------------------------------------------- plumbing

    private static final class Tx {
        final Connection c;
        final List<JobEvent> appended = new ArrayList<>();

        Tx(Connection c) {
            this.c = c;
        }
    }

    @FunctionalInterface
    private interface Work<T> {
        T run(Tx tx) throws SQLException;
    }

    /** Runs {@code work} in one transaction, retrying on serialization failures; publishes its events after commit. */
    private <T> T inTx(String what, Work<T> work) {
        for (int attempt = 1; ; attempt++) {
            Tx tx;
            T result;
            try (Connection c = dataSource.getConnection()) {
                c.setAutoCommit(false);
                tx = new Tx(c);
                try {
                    result = work.run(tx);
                    c.commit();
                } catch (SQLException | RuntimeException e) {
                    try {
                        c.rollback();
                    } catch (SQLException re) {
                        e.addSuppressed(re);
                    }
                    throw e;
                } finally {
                    try {
                        c.setAutoCommit(true);
                    } catch (SQLException ignored) {
                        // the pool resets or discards it
                    }
                }
            } catch (SQLException e) {
                if (retryable(e) && attempt < MAX_ATTEMPTS) {
                    sleep(5L * attempt + RANDOM.nextInt(10));
                    continue;
                }
                throw new JobStoreException("job store: " + what + " failed: " + e.getMessage(), e);
            }
            publishLocally(tx.appended);
            return result;
        }
    }

    private static boolean retryable(SQLException e) {
        String state = e.getSQLState();
        return "40001".equals(state)       // serialization failure (PostgreSQL), deadlock (H2)
                || "40P01".equals(state)   // deadlock (PostgreSQL)
                || "90131".equals(state);  // H2: row concurrently updated
    }

    private static boolean uniqueViolation(Throwable e) {
        return e instanceof SQLException s && "23505".equals(s.getSQLState());
    }

    private static void requireStatus(Connection c, String id) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT status FROM jobs WHERE id = ?")) {
            ps.setString(1, id);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) throw new JobNotFoundException(id);
            }
        }
    }

    private static Optional<Job> selectJob(Connection c, String id) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT " + JOB_COLUMNS + " FROM jobs WHERE id = ?")) {
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

    private static JobEvent event(ResultSet rs) throws SQLException {
        return new JobEvent(rs.getString(1), rs.getLong(2), rs.getString(3), rs.getString(4), instant(rs, 5));
    }

    private static Instant instant(ResultSet rs, int column) throws SQLException {
        OffsetDateTime t = rs.getObject(column, OffsetDateTime.class);
        return t == null ? null : t.toInstant();
    }

    private static OffsetDateTime utc(Instant t) {
        return OffsetDateTime.ofInstant(t, ZoneOffset.UTC);
    }

    /** The clock at microsecond precision (what both databases store), strictly increasing within this store. */
    private Instant now() {
        long wall = ChronoUnit.MICROS.between(Instant.EPOCH, clock.instant());
        long micros = lastMicros.updateAndGet(prev -> Math.max(prev + 1, wall));
        return Instant.ofEpochSecond(Math.floorDiv(micros, 1_000_000L), Math.floorMod(micros, 1_000_000L) * 1000L);
    }

    /** kind prefix + 22 URL-safe characters (128 random bits). */
    static String newId(JobKind kind) {
        byte[] bytes = new byte[16];
        RANDOM.nextBytes(bytes);
        return kind.idPrefix() + Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }

    private static String jsonString(String s) {
        StringBuilder b = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++) {
            char ch = s.charAt(i);
            switch (ch) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (ch < 0x20) b.append(String.format("\\u%04x", (int) ch));
                    else b.append(ch);
                }
            }
        }
        return b.append('"').toString();
    }

    /** An error given as a JSON object or array goes into the event as is; anything else as a JSON string. */
    private static String embed(String json) {
        String t = json.strip();
        boolean structured = (t.startsWith("{") && t.endsWith("}")) || (t.startsWith("[") && t.endsWith("]"));
        return structured ? t : jsonString(json);
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new JobStoreException("interrupted while waiting to retry", e);
        }
    }

    /** List position: createdAt and id of the last job of the previous page, as URL-safe base64. */
    /** A previous page's nextCursor, or the id of one of the owner's jobs (the page starts after it). */
    private Cursor cursorOf(String owner, String cursor) {
        if (JobKind.ofId(cursor) == null) return Cursor.decode(cursor);
        Job job = find(cursor).filter(j -> owner == null || owner.equals(j.owner()))
                .orElseThrow(() -> new IllegalArgumentException("no job '" + cursor + "' to list after;"
                        + " pass the id of one of your jobs or the nextCursor of the previous page"));
        return new Cursor(job.createdAt(), job.id());
    }

    record Cursor(Instant createdAt, String id) {
        String encode() {
            return Base64.getUrlEncoder().withoutPadding()
                    .encodeToString((createdAt + "|" + id).getBytes(StandardCharsets.UTF_8));
        }

        static Cursor decode(String cursor) {
            try {
                String s = new String(Base64.getUrlDecoder().decode(cursor), StandardCharsets.UTF_8);
                int bar = s.indexOf('|');
                if (bar < 0) throw new IllegalArgumentException("no separator");
                return new Cursor(Instant.parse(s.substring(0, bar)), s.substring(bar + 1));
            } catch (RuntimeException e) {
                throw new IllegalArgumentException("cursor '" + cursor + "' is not one this server issued;"
                        + " pass the nextCursor of the previous page, or none for the first page", e);
            }
        }
    }
}
