package dev.kaze.jobs.store;

import dev.kaze.jobs.JobStoreException;
import dev.kaze.jobs.store.Transactions.Tx;
import dev.kaze.jobs.webhooks.WebhookDelivery;
import dev.kaze.jobs.webhooks.WebhookMessage;
import dev.kaze.jobs.webhooks.WebhookOutbox;
import dev.kaze.jobs.webhooks.WebhookTarget;

import javax.sql.DataSource;
import java.net.URI;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;

import static dev.kaze.jobs.store.StoreClock.utc;

/**
 * A {@link WebhookOutbox} in the job store's {@code webhook_outbox} table, so pending deliveries survive a restart
 * or a kill. Each replica has its own outbox with its own id: a delivery it saves or claims is held by it for the
 * {@linkplain #lease() lease}, which its dispatcher renews while it runs; when it dies the claims run out and another
 * replica (or the next process) claims the rows. On PostgreSQL claims skip the rows another replica has locked
 * ({@code FOR UPDATE SKIP LOCKED}) and every claim is a guarded update, so two replicas never both claim a row.
 * Done rows are kept for {@link #DONE_RETENTION}, so a replica relaying an event late does not send it again.
 *
 * <p>The signing secret is not stored: deliveries are loaded with the {@code secret} this outbox was made with
 * (the server's current one).
 */
public final class JdbcWebhookOutbox implements WebhookOutbox {
    public static final Duration DEFAULT_LEASE = Duration.ofSeconds(30);
    /** How long done rows stay, to recognise a late duplicate save of the same message id. */
    public static final Duration DONE_RETENTION = Duration.ofDays(1);
    private static final int CLAIM_BATCH = 500;
    private static final String COLUMNS = "message_id, job_id, seq, type, body, url, events";

    private final Transactions transactions;
    private final SqlDialect dialect;
    private final StoreClock clock;
    private final String replicaId;
    private final Duration lease;
    private final String secret;

    /**
     * @param replicaId who holds the claims: unique per process (a restarted process is a new holder)
     * @param lease     how long a claim lasts without renewal; a dead replica's deliveries go out again after it
     * @param secret    the {@code whsec_} secret deliveries are loaded with
     */
    public JdbcWebhookOutbox(DataSource dataSource, String replicaId, Duration lease, String secret, Clock clock) {
        Objects.requireNonNull(dataSource, "dataSource");
        if (replicaId == null || replicaId.isBlank() || replicaId.length() > 200)
            throw new IllegalArgumentException("webhook outbox replica id must be 1 to 200 characters, got '" + replicaId + "'");
        if (lease == null || !lease.isPositive())
            throw new IllegalArgumentException("webhook outbox lease must be positive, got " + lease);
        this.transactions = new Transactions(dataSource);
        this.dialect = SqlDialect.of(dataSource);
        this.clock = new StoreClock(Objects.requireNonNull(clock, "clock"));
        this.replicaId = replicaId;
        this.lease = lease;
        this.secret = Objects.requireNonNull(secret, "secret");
    }

    public JdbcWebhookOutbox(DataSource dataSource, String replicaId, String secret) {
        this(dataSource, replicaId, DEFAULT_LEASE, secret, Clock.systemUTC());
    }

    @Override
    public Duration lease() {
        return lease;
    }

    @Override
    public boolean save(WebhookDelivery delivery) {
        WebhookMessage m = delivery.message();
        Instant now = clock.now();
        try {
            return transactions.run("save webhook delivery " + m.id(), tx -> {
                try (PreparedStatement ps = tx.prepare(dialect.insertOutboxIfAbsent())) {
                    ps.setString(1, m.id());
                    ps.setString(2, m.jobId());
                    ps.setLong(3, m.seq());
                    ps.setString(4, m.type());
                    ps.setString(5, m.json());
                    ps.setString(6, delivery.target().url().toString());
                    ps.setString(7, String.join(",", delivery.target().events()));
                    ps.setObject(8, utc(now));
                    ps.setString(9, replicaId);
                    ps.setObject(10, utc(now.plus(lease)));
                    return ps.executeUpdate() == 1;
                }
            });
        } catch (JobStoreException e) {
            if (Transactions.uniqueViolation(e.getCause())) return false; // a concurrent save of the same id won
            throw e;
        }
    }

    @Override
    public void markDone(String messageId) {
        transactions.run("mark webhook delivery " + messageId + " done", tx -> {
            try (PreparedStatement ps = tx.prepare("UPDATE webhook_outbox SET done_at = ?, claimed_by = NULL,"
                    + " claimed_until = NULL WHERE message_id = ? AND done_at IS NULL")) {
                ps.setObject(1, utc(clock.now()));
                ps.setString(2, messageId);
                return ps.executeUpdate();
            }
        });
    }

    @Override
    public List<WebhookDelivery> loadPending() {
        return transactions.run("load pending webhook deliveries", tx -> {
            try (PreparedStatement ps = tx.prepare("SELECT " + COLUMNS + " FROM webhook_outbox WHERE done_at IS NULL"
                    + " ORDER BY created_at, message_id")) {
                return read(ps);
            }
        });
    }

    @Override
    public List<WebhookDelivery> claimPending() {
        return dialect.claiming(() -> transactions.run("claim pending webhook deliveries", this::claim));
    }

    private List<WebhookDelivery> claim(Tx tx) throws SQLException {
        Instant now = clock.now();
        List<WebhookDelivery> free;
        try (PreparedStatement ps = tx.prepare("SELECT " + COLUMNS + " FROM webhook_outbox WHERE done_at IS NULL"
                + " AND (claimed_until IS NULL OR claimed_until < ?) ORDER BY created_at, message_id LIMIT "
                + CLAIM_BATCH + dialect.claimLockClause())) {
            ps.setObject(1, utc(now));
            free = read(ps);
        }
        List<WebhookDelivery> claimed = new ArrayList<>();
        try (PreparedStatement ps = tx.prepare("UPDATE webhook_outbox SET claimed_by = ?, claimed_until = ?"
                + " WHERE message_id = ? AND done_at IS NULL AND (claimed_until IS NULL OR claimed_until < ?)")) {
            for (WebhookDelivery d : free) {
                ps.setString(1, replicaId);
                ps.setObject(2, utc(now.plus(lease)));
                ps.setString(3, d.message().id());
                ps.setObject(4, utc(now));
                // another store on the same H2 database may have claimed it since the SELECT
                if (ps.executeUpdate() == 1) claimed.add(d);
            }
        }
        return claimed;
    }

    @Override
    public void renewClaims() {
        transactions.run("renew webhook delivery claims", tx -> {
            Instant now = clock.now();
            try (PreparedStatement ps = tx.prepare("UPDATE webhook_outbox SET claimed_until = ?"
                    + " WHERE claimed_by = ? AND done_at IS NULL")) {
                ps.setObject(1, utc(now.plus(lease)));
                ps.setString(2, replicaId);
                ps.executeUpdate();
            }
            try (PreparedStatement ps = tx.prepare("DELETE FROM webhook_outbox WHERE done_at < ?")) {
                ps.setObject(1, utc(now.minus(DONE_RETENTION)));
                return ps.executeUpdate();
            }
        });
    }

    private List<WebhookDelivery> read(PreparedStatement ps) throws SQLException {
        List<WebhookDelivery> out = new ArrayList<>();
        try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                WebhookMessage message = new WebhookMessage(rs.getString(1), rs.getString(2), rs.getLong(3),
                        rs.getString(4), rs.getString(5));
                var events = new LinkedHashSet<>(Arrays.asList(rs.getString(7).split(",")));
                events.remove("");
                out.add(new WebhookDelivery(new WebhookTarget(URI.create(rs.getString(6)), events, secret), message));
            }
        }
        return out;
    }

    @Override
    public String toString() {
        return "JdbcWebhookOutbox[" + replicaId + ", lease " + lease + "]";
    }
}
