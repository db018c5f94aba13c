package dev.kaze.jobs.store;

import javax.sql.DataSource;

/** Usage accounting on a real PostgreSQL (as {@link PostgresJobStoreTest}: a fresh schema per run). */
class PostgresJobUsageTest extends JobUsageContract {
    final PostgresJobStoreTest database = new PostgresJobStoreTest();

    @Override
    DataSource openDataSource() {
        return database.openDataSource();
    }

    @Override
    void closeDataSources() throws Exception {
        database.closeDataSources();
    }
}
