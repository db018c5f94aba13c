package dev.kaze.jobs.store;

import dev.kaze.jobs.JobEvent;
import dev.kaze.jobs.JobNotFoundException;
import dev.kaze.jobs.JobStoreException;
import dev.kaze.jobs.store.Transactions.Tx;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import static dev.kaze.jobs.store.StoreClock.instant;
import static dev.kaze.jobs.store.StoreClock.utc;

/**
 * The jobs' event logs and their subscribers. Events are appended inside the transaction that changes the job and
 * reach the subscribers once it committed:
 * <ul>
 * <li>PostgreSQL: each append also NOTIFYs {@link #CHANNEL} with "jobId seq"; one thread LISTENs on its own
 * connection and re-reads each notified event, so the subscribers of every process see every event;</li>
 * <li>H2 (one process): one thread hands this store's events to this store's subscribers.</li>
 * </ul>
 */
final class JobEventBus implements AutoCloseable {
    /** PostgreSQL NOTIFY channel; the payload is "jobId seq". */
    static final String CHANNEL = "kaze_job_events";

    private static final Logger log = LoggerFactory.getLogger(JobEventBus.class);
    private static final String EVENT_COLUMNS = "job_id, seq, type, data_json, at";

    private final DataSource dataSource;
    private final StoreClock clock;
    private final Delivery delivery;
    private final List<Consumer<JobEvent>> listeners = new CopyOnWriteArrayList<>();
    private volatile boolean closed;

    JobEventBus(DataSource dataSource, SqlDialect dialect, StoreClock clock) {
        this.dataSource = dataSource;
        this.clock = clock;
        this.delivery = switch (dialect) {
            case SqlDialect.PostgreSql _ -> new Notifications();
            case SqlDialect.H2 _ -> new LocalDelivery();
        };
    }

    /** Next seq from the job row (its row lock orders concurrent appends), then the event row. */
    JobEvent append(Tx tx, String jobId, String type, String dataJson) throws SQLException {
        try (PreparedStatement ps = tx.prepare("UPDATE jobs SET last_seq = last_seq + 1 WHERE id = ?")) {
            ps.setString(1, jobId);
            if (ps.executeUpdate() == 0) throw new JobNotFoundException(jobId);
        }
        long seq;
        try (PreparedStatement ps = tx.prepare("SELECT last_seq FROM jobs WHERE id = ?")) {
            ps.setString(1, jobId);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                seq = rs.getLong(1);
            }
        }
        JobEvent event = new JobEvent(jobId, seq, type, dataJson, clock.now());
        try (PreparedStatement ps = tx.prepare("INSERT INTO job_events (" + EVENT_COLUMNS + ") VALUES (?, ?, ?, ?, ?)")) {
            ps.setString(1, jobId);
            ps.setLong(2, seq);
            ps.setString(3, type);
            ps.setString(4, dataJson);
            ps.setObject(5, utc(event.at()));
            ps.executeUpdate();
        }
        delivery.appended(tx, event);
        return event;
    }

    /** The job's events after {@code afterSeq}, oldest first. */
    List<JobEvent> events(Tx tx, String jobId, long afterSeq) throws SQLException {
        List<JobEvent> out = new ArrayList<>();
        try (PreparedStatement ps = tx.prepare("SELECT " + EVENT_COLUMNS + " FROM job_events"
                + " WHERE job_id = ? AND seq > ? ORDER BY seq")) {
            ps.setString(1, jobId);
            ps.setLong(2, afterSeq);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) out.add(event(rs));
            }
        }
        return out;
    }

    /** Hands every event appended from now on to {@code listener} (on the delivery thread); close to stop. */
    AutoCloseable subscribe(Consumer<JobEvent> listener) {
        Objects.requireNonNull(listener, "listener");
        if (closed) throw new IllegalStateException("the job store is closed");
        listeners.add(listener);
        try {
            delivery.start();
        } catch (RuntimeException e) {
            listeners.remove(listener);
            throw e;
        }
        return () -> listeners.remove(listener);
    }

    /** Stops the delivery thread and releases its connection. */
    @Override
    public void close() {
        closed = true;
        listeners.clear();
        delivery.stop();
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

    private static JobEvent event(ResultSet rs) throws SQLException {
        return new JobEvent(rs.getString(1), rs.getLong(2), rs.getString(3), rs.getString(4), instant(rs, 5));
    }

    /** How appended events reach the subscribers. */
    private sealed interface Delivery {
        /** In the appending transaction, once the event row is written. */
        void appended(Tx tx, JobEvent event) throws SQLException;

        /** Starts the delivery thread unless it runs. */
        void start();

        /** Stops the delivery thread, waiting a few seconds for it. */
        void stop();
    }

    /** PostgreSQL: NOTIFY in the appending transaction; one thread LISTENs on its own connection. */
    private final class Notifications implements Delivery {
        private Thread listener;

        @Override
        public void appended(Tx tx, JobEvent event) throws SQLException {
            try (PreparedStatement ps = tx.prepare("SELECT pg_notify(?, ?)")) {
                ps.setString(1, CHANNEL);
                ps.setString(2, event.jobId() + " " + event.seq());
                ps.execute();
            }
        }

        @Override
        public synchronized void start() {
            if (listener != null) return;
            CountDownLatch listening = new CountDownLatch(1);
            listener = Thread.ofPlatform().daemon().name("kaze-job-events-listen").start(() -> listen(listening));
            try {
                if (!listening.await(15, TimeUnit.SECONDS))
                    throw new JobStoreException("could not LISTEN on PostgreSQL channel " + CHANNEL
                            + " within 15 s; is the database reachable and the connection pool not exhausted?", null);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new JobStoreException("interrupted while starting to LISTEN on " + CHANNEL, e);
            }
        }

        /** Holds one connection LISTENing, re-reads each notified event and hands it to the listeners. */
        private void listen(CountDownLatch listening) {
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
                            notified(c, parts[0], Long.parseLong(parts[1])).ifPresent(JobEventBus.this::deliver);
                        }
                    }
                } catch (SQLException | RuntimeException e) {
                    if (closed) return;
                    log.warn("job event listener lost its PostgreSQL connection ({}); reconnecting in 1 s."
                            + " Events appended meanwhile are not pushed but stay readable with events()", e.toString());
                    Transactions.pause(1000);
                }
            }
        }

        private Optional<JobEvent> notified(Connection c, String jobId, long seq) throws SQLException {
            try (PreparedStatement ps = c.prepareStatement(
                    "SELECT " + EVENT_COLUMNS + " FROM job_events WHERE job_id = ? AND seq = ?")) {
                ps.setString(1, jobId);
                ps.setLong(2, seq);
                try (ResultSet rs = ps.executeQuery()) {
                    return rs.next() ? Optional.of(event(rs)) : Optional.empty();
                }
            }
        }

        @Override
        public void stop() {
            Thread running;
            synchronized (this) {
                running = listener;
            }
            if (running == null) return;
            try {
                running.join(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** H2: after commit, one thread hands this store's events to its subscribers, in order. */
    private final class LocalDelivery implements Delivery {
        private ExecutorService thread;

        @Override
        public void appended(Tx tx, JobEvent event) {
            tx.afterCommit(() -> deliverLater(event));
        }

        @Override
        public synchronized void start() {
            if (thread == null)
                thread = Executors.newSingleThreadExecutor(Thread.ofPlatform().daemon().name("kaze-job-events").factory());
        }

        private void deliverLater(JobEvent event) {
            ExecutorService running;
            synchronized (this) {
                running = thread;
            }
            if (running == null || listeners.isEmpty()) return;
            try {
                running.execute(() -> deliver(event));
            } catch (RejectedExecutionException closing) {
                // the store is closing
            }
        }

        @Override
        public void stop() {
            ExecutorService running;
            synchronized (this) {
                running = thread;
            }
            if (running == null) return;
            running.shutdown();
            try {
                running.awaitTermination(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
