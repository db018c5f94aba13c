package dev.kaze.jobs.store;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.UUID;

/** The job store contract on an in-memory H2 database (the embedded default's engine). */
public class H2JobStoreTest extends JobStoreContract {
    final String url = "jdbc:h2:mem:jobs_" + UUID.randomUUID().toString().replace("-", "") + ";DB_CLOSE_DELAY=-1";
    HikariDataSource pool;

    /** A pool on {@code url}; also used by the tests of the job classes built on the store. */
    public static HikariDataSource pool(String url, String name) {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(url);
        config.setUsername("sa");
        config.setPassword("");
        config.setMaximumPoolSize(10);
        config.setPoolName(name);
        return new HikariDataSource(config);
    }

    @Override
    DataSource openDataSource() {
        pool = pool(url, "h2-jobs");
        JobSchema.migrate(pool, null);
        return pool;
    }

    @Override
    DataSource openSecondDataSource() {
        return pool(url, "h2-jobs-second");
    }

    @Override
    void closeDataSources() throws Exception {
        pool.close();
        // the in-memory database outlives its connections (DB_CLOSE_DELAY=-1) until shut down
        try (Connection c = DriverManager.getConnection(url, "sa", ""); Statement st = c.createStatement()) {
            st.execute("SHUTDOWN");
        }
    }

    @Override
    boolean sharesEventsAcrossStores() {
        return false;
    }
}
