package dev.kaze.jobs.store;

import com.zaxxer.hikari.HikariDataSource;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.UUID;

/** The webhook outbox on an in-memory H2 database (the embedded default's engine). */
class H2WebhookOutboxTest extends WebhookOutboxContract {
    final String url = "jdbc:h2:mem:outbox_" + UUID.randomUUID().toString().replace("-", "") + ";DB_CLOSE_DELAY=-1";
    HikariDataSource pool;

    @Override
    DataSource openDataSource() {
        pool = H2JobStoreTest.pool(url, "h2-outbox");
        JobSchema.migrate(pool, null);
        return pool;
    }

    @Override
    void closeDataSources() throws Exception {
        pool.close();
        try (Connection c = DriverManager.getConnection(url, "sa", ""); Statement st = c.createStatement()) {
            st.execute("SHUTDOWN");
        }
    }
}
