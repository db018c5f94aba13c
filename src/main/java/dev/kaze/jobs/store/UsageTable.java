package dev.kaze.jobs.store;

import dev.kaze.jobs.JobNotFoundException;
import dev.kaze.jobs.JobUsage;
import dev.kaze.jobs.OwnerUsage;
import dev.kaze.jobs.store.Transactions.Tx;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

import static dev.kaze.jobs.store.StoreClock.utc;
import static dev.kaze.json.Json.MAPPER;

/**
 * The {@code job_usage} table: one row per job, its owner and kind copied from the job so the row outlives a
 * deleted job. A job's later runs (after a resume) add to its row.
 */
final class UsageTable {
    private static final String COLUMNS = "stages_json, peak_memory_bytes, peak_memory_source, model, loras_json";

    private final Transactions transactions;
    private final StoreClock clock;

    UsageTable(Transactions transactions, StoreClock clock) {
        this.transactions = transactions;
        this.clock = clock;
    }

    void record(String id, JobUsage run) {
        transactions.run("record usage of job " + id, tx -> {
            String owner, kind;
            try (PreparedStatement ps = tx.prepare("SELECT owner, kind FROM jobs WHERE id = ?")) {
                ps.setString(1, id);
                try (ResultSet rs = ps.executeQuery()) {
                    if (!rs.next()) throw new JobNotFoundException(id);
                    owner = rs.getString(1);
                    kind = rs.getString(2);
                }
            }
            Optional<JobUsage> before = select(tx, id, true);
            JobUsage total = before.map(b -> b.plus(run)).orElse(run);
            String sql = before.isPresent()
                    ? "UPDATE job_usage SET device_seconds = ?, stages_json = ?, peak_memory_bytes = ?,"
                    + " peak_memory_source = ?, model = ?, loras_json = ?, recorded_at = ? WHERE job_id = ?"
                    : "INSERT INTO job_usage (device_seconds, stages_json, peak_memory_bytes, peak_memory_source, model,"
                    + " loras_json, recorded_at, job_id, owner, kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
            try (PreparedStatement ps = tx.prepare(sql)) {
                ps.setDouble(1, total.deviceSeconds());
                ps.setString(2, MAPPER.writeValueAsString(total.stageSeconds()));
                if (total.peakMemoryBytes() == null) ps.setNull(3, Types.BIGINT);
                else ps.setLong(3, total.peakMemoryBytes());
                ps.setString(4, total.peakMemorySource());
                ps.setString(5, total.model());
                ps.setString(6, MAPPER.writeValueAsString(total.loras()));
                ps.setObject(7, utc(clock.now()));
                ps.setString(8, id);
                if (before.isEmpty()) {
                    ps.setString(9, owner);
                    ps.setString(10, kind);
                }
                return ps.executeUpdate();
            }
        });
    }

    Optional<JobUsage> find(String id) {
        return transactions.run("read usage of job " + id, tx -> select(tx, id, false));
    }

    List<OwnerUsage> byOwner(String owner, Instant from, Instant to) {
        return transactions.run("sum usage per owner", tx -> {
            Map<String, Long> jobs = new TreeMap<>();
            Map<String, Double> seconds = new TreeMap<>();
            Map<String, Map<String, Double>> stages = new TreeMap<>();
            try (PreparedStatement ps = tx.prepare("SELECT owner, device_seconds, stages_json FROM job_usage"
                    + " WHERE recorded_at >= ? AND recorded_at < ?" + (owner != null ? " AND owner = ?" : ""))) {
                ps.setObject(1, utc(from));
                ps.setObject(2, utc(to));
                if (owner != null) ps.setString(3, owner);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        String o = rs.getString(1);
                        jobs.merge(o, 1L, Long::sum);
                        seconds.merge(o, rs.getDouble(2), Double::sum);
                        Map<String, Double> perStage = stages.computeIfAbsent(o, k -> new LinkedHashMap<>());
                        stagesOf(rs.getString(3)).forEach((k, v) -> perStage.merge(k, v, Double::sum));
                    }
                }
            }
            List<OwnerUsage> out = new ArrayList<>();
            for (String o : jobs.keySet()) out.add(new OwnerUsage(o, jobs.get(o), seconds.get(o), stages.get(o)));
            return out;
        });
    }

    private static Optional<JobUsage> select(Tx tx, String id, boolean forUpdate) throws SQLException {
        try (PreparedStatement ps = tx.prepare("SELECT " + COLUMNS + " FROM job_usage WHERE job_id = ?"
                + (forUpdate ? " FOR UPDATE" : ""))) {
            ps.setString(1, id);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) return Optional.empty();
                long peak = rs.getLong(2);
                Long peakOrNull = rs.wasNull() ? null : peak;
                Map<String, String> loras = new LinkedHashMap<>();
                MAPPER.readTree(rs.getString(5)).properties().forEach(e -> loras.put(e.getKey(), e.getValue().asString()));
                return Optional.of(new JobUsage(stagesOf(rs.getString(1)), peakOrNull, rs.getString(3), rs.getString(4), loras));
            }
        }
    }

    private static Map<String, Double> stagesOf(String json) {
        Map<String, Double> out = new LinkedHashMap<>();
        JsonNode node = MAPPER.readTree(json);
        if (node instanceof ObjectNode o) o.properties().forEach(e -> out.put(e.getKey(), e.getValue().asDouble()));
        return out;
    }
}
