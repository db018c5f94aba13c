package dev.kaze.jobs.store;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import org.junit.jupiter.api.Assumptions;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Properties;
import java.util.UUID;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * The job store contract on a real PostgreSQL: database {@code test} at 127.0.0.1:5432 (trust auth) unless
 * {@code -Dkaze.test.pg.url=… -Dkaze.test.pg.user=…} say otherwise; each run uses a fresh schema and drops it after.
 * Fails, and says how to fix it, when PostgreSQL is not reachable; {@code -Dkaze.test.pg=off} skips instead.
 */
public class PostgresJobStoreTest extends JobStoreContract {
    public static final String URL = System.getProperty("kaze.test.pg.url", "jdbc:postgresql://127.0.0.1:5432/test");
    Schema schema;
    HikariDataSource pool;

    /**
     * A fresh schema of a test in the database at {@link #URL}, created as a reachable user; dropped, with all in it,
     * by {@link #close()}.
     */
    public record Schema(String user, String name) implements AutoCloseable {
        /** Creates a schema named prefix + a random suffix; skips the test when {@code -Dkaze.test.pg=off}. */
        public static Schema create(String prefix) {
            Assumptions.assumeFalse("off".equals(System.getProperty("kaze.test.pg")), "PostgreSQL tests switched off with -Dkaze.test.pg=off");
            String user = reachableUser();
            String name = prefix + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
            try (Connection c = DriverManager.getConnection(URL, props(user)); Statement st = c.createStatement()) {
                st.execute("CREATE SCHEMA " + name);
            } catch (SQLException e) {
                fail("could not create test schema " + name + " in " + URL + " as " + user + ": " + e.getMessage(), e);
            }
            return new Schema(user, name);
        }

        /** The JDBC URL whose tables are this schema's. */
        public String url() { return URL + (URL.contains("?") ? "&" : "?") + "currentSchema=" + name; }

        @Override public void close() throws SQLException {
            try (Connection c = DriverManager.getConnection(URL, props(user)); Statement st = c.createStatement()) {
                st.execute("DROP SCHEMA IF EXISTS " + name + " CASCADE");
            }
        }
    }

    @Override
    DataSource openDataSource() {
        schema = Schema.create("kaze_jobs_test_");
        pool = pool("pg-jobs");
        JobSchema.migrate(pool, schema.name());
        return pool;
    }

    /** The configured user, else postgres, else the OS user; fails with the fix when none can connect. */
    public static String reachableUser() {
        String configured = System.getProperty("kaze.test.pg.user");
        var candidates = configured != null ? List.of(configured)
                : List.of("postgres", System.getProperty("user.name"));
        SQLException last = null;
        DriverManager.setLoginTimeout(5);
        for (String candidate : candidates) {
            try (Connection ignored = DriverManager.getConnection(URL, props(candidate))) {
                return candidate;
            } catch (SQLException e) {
                last = e;
            }
        }
        fail("PostgreSQL is not reachable at " + URL + " as " + candidates + " (" + last.getMessage() + ")."
                + " The PostgreSQL job store tests need a running server with trust auth and a database 'test':"
                + " start it (on the Kaze dev/CI machines: pg_ctlcluster --skip-systemctl-redirect"
                + " $(ls /etc/postgresql) main start), or point -Dkaze.test.pg.url / -Dkaze.test.pg.user at one,"
                + " or skip these tests with -Dkaze.test.pg=off.", last);
        return null;
    }

    public static Properties props(String user) {
        Properties p = new Properties();
        p.setProperty("user", user);
        return p;
    }

    HikariDataSource pool(String name) {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(schema.url());
        config.setUsername(schema.user());
        config.setMaximumPoolSize(10);
        config.setPoolName(name);
        return new HikariDataSource(config);
    }

    @Override
    DataSource openSecondDataSource() {
        return pool("pg-jobs-second");
    }

    @Override
    void closeDataSources() throws Exception {
        if (pool != null) pool.close();
        if (schema != null) schema.close();
    }

    @Override
    boolean sharesEventsAcrossStores() {
        return true;
    }
}
