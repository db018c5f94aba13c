package dev.kaze.jobs.store;

import javax.sql.DataSource;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;

/**
 * The SQL that differs between the two databases the job store runs on: how a claim locks the job it picks, and how
 * a row is inserted or replaced. Events differ too, in how they reach other processes ({@link JobEventBus}).
 */
sealed interface SqlDialect {
    /** The dialect of the database behind {@code dataSource} (H2 or PostgreSQL, see {@link JobSchema#vendor}). */
    static SqlDialect of(DataSource dataSource) {
        String vendor = JobSchema.vendor(dataSource);
        return switch (vendor) {
            case "h2" -> new H2();
            case "postgresql" -> new PostgreSql();
            default -> throw new IllegalStateException("the job store has no SQL dialect for '" + vendor + "'");
        };
    }

    /** Appended to the SELECT that picks the next queued job. */
    String claimLockClause();

    /** Runs one claim (select the next queued job, then a guarded update). */
    <T> T claiming(Supplier<T> claim);

    /** Inserts or replaces a worker's heartbeat; parameters: id, heartbeat_at. */
    String upsertHeartbeat();

    /** Inserts or replaces a job's checkpoint; parameters: job_id, step, state, at. */
    String upsertCheckpoint();

    /**
     * Inserts a webhook delivery unless one with the same message id is there (then changes nothing); parameters:
     * message_id, job_id, seq, type, body, url, events, created_at, claimed_by, claimed_until.
     */
    String insertOutboxIfAbsent();

    /** Several processes claim at once: each skips the jobs the others hold locked. */
    record PostgreSql() implements SqlDialect {
        @Override
        public String claimLockClause() {
            return " FOR UPDATE SKIP LOCKED";
        }

        @Override
        public <T> T claiming(Supplier<T> claim) {
            return claim.get();
        }

        @Override
        public String upsertHeartbeat() {
            return "INSERT INTO job_workers (id, heartbeat_at) VALUES (?, ?)"
                    + " ON CONFLICT (id) DO UPDATE SET heartbeat_at = EXCLUDED.heartbeat_at";
        }

        @Override
        public String upsertCheckpoint() {
            return "INSERT INTO job_checkpoints (job_id, step, state, at) VALUES (?, ?, ?, ?) ON CONFLICT (job_id)"
                    + " DO UPDATE SET step = EXCLUDED.step, state = EXCLUDED.state, at = EXCLUDED.at";
        }

        @Override
        public String insertOutboxIfAbsent() {
            return "INSERT INTO webhook_outbox (message_id, job_id, seq, type, body, url, events, created_at, claimed_by,"
                    + " claimed_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (message_id) DO NOTHING";
        }
    }

    /**
     * H2's SKIP LOCKED counts skipped rows against LIMIT, so this store's claims take turns under a lock instead;
     * another store on the same database loses the guarded update and the claim tries again.
     */
    final class H2 implements SqlDialect {
        private final ReentrantLock claimLock = new ReentrantLock();

        @Override
        public String claimLockClause() {
            return "";
        }

        @Override
        public <T> T claiming(Supplier<T> claim) {
            claimLock.lock();
            try {
                return claim.get();
            } finally {
                claimLock.unlock();
            }
        }

        @Override
        public String upsertHeartbeat() {
            return "MERGE INTO job_workers (id, heartbeat_at) KEY (id) VALUES (?, ?)";
        }

        @Override
        public String upsertCheckpoint() {
            return "MERGE INTO job_checkpoints (job_id, step, state, at) KEY (job_id) VALUES (?, ?, ?, ?)";
        }

        /** A concurrent insert of the same id still fails with a unique violation, which the caller reads as "there". */
        @Override
        public String insertOutboxIfAbsent() {
            return "INSERT INTO webhook_outbox (message_id, job_id, seq, type, body, url, events, created_at, claimed_by,"
                    + " claimed_until) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10 FROM DUAL"
                    + " WHERE NOT EXISTS (SELECT 1 FROM webhook_outbox WHERE message_id = ?1)";
        }
    }
}
