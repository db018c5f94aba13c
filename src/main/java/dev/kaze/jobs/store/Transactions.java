package dev.kaze.jobs.store;

import dev.kaze.jobs.JobStoreException;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Runs each piece of store work in its own transaction (the connection's default isolation, READ COMMITTED on both
 * databases), retried a few times on serialization failures and deadlocks. What a transaction leaves to do after
 * it committed (deliver its events) runs once it did.
 */
final class Transactions {
    private static final int MAX_ATTEMPTS = 6;

    private final DataSource dataSource;

    Transactions(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    /** One transaction: its connection, and the actions to run once it committed. */
    static final class Tx {
        private final Connection connection;
        private final List<Runnable> afterCommit = new ArrayList<>();

        private Tx(Connection connection) {
            this.connection = connection;
        }

        PreparedStatement prepare(String sql) throws SQLException {
            return connection.prepareStatement(sql);
        }

        /** Runs {@code action} once this transaction committed; not at all when it rolls back. */
        void afterCommit(Runnable action) {
            afterCommit.add(action);
        }
    }

    /** Work inside one transaction; a retry runs it again on a fresh transaction. */
    @FunctionalInterface
    interface Work<T> {
        T run(Tx tx) throws SQLException;
    }

    /** Runs {@code work} in one transaction; {@code what} names it in the error when it fails for good. */
    <T> T run(String what, Work<T> work) {
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
                    pause(5L * attempt + ThreadLocalRandom.current().nextInt(10));
                    continue;
                }
                throw new JobStoreException("job store: " + what + " failed: " + e.getMessage(), e);
            }
            tx.afterCommit.forEach(Runnable::run);
            return result;
        }
    }

    private static boolean retryable(SQLException e) {
        String state = e.getSQLState();
        return "40001".equals(state)       // serialization failure (PostgreSQL), deadlock (H2)
                || "40P01".equals(state)   // deadlock (PostgreSQL)
                || "90131".equals(state);  // H2: row concurrently updated
    }

    /** True when {@code e} is a unique constraint violation (another transaction inserted the same key). */
    static boolean uniqueViolation(Throwable e) {
        return e instanceof SQLException s && "23505".equals(s.getSQLState());
    }

    /** Sleeps before trying again; an interrupt ends the waiting with a {@link JobStoreException}. */
    static void pause(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new JobStoreException("interrupted while waiting to retry", e);
        }
    }
}
