package dev.kaze.jobs.store;

import com.zaxxer.hikari.HikariDataSource;

import javax.sql.DataSource;
import java.util.ArrayList;
import java.util.List;

/**
 * The webhook outbox on a real PostgreSQL (as {@link PostgresJobStoreTest}: database {@code test} at 127.0.0.1:5432,
 * a fresh schema per run); each racing replica has its own connection pool, as separate processes would.
 */
class PostgresWebhookOutboxTest extends WebhookOutboxContract {
    final PostgresJobStoreTest database = new PostgresJobStoreTest();
    final List<HikariDataSource> replicaPools = new ArrayList<>();

    @Override
    DataSource openDataSource() {
        return database.openDataSource();
    }

    @Override
    DataSource secondDataSource(int replica) {
        HikariDataSource pool = database.pool("pg-outbox-replica-" + replica);
        replicaPools.add(pool);
        return pool;
    }

    @Override
    void closeDataSources() throws Exception {
        replicaPools.forEach(HikariDataSource::close);
        database.closeDataSources();
    }
}
