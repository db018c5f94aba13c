package dev.kaze.jobs.store;

import javax.sql.DataSource;

/** Usage accounting on an in-memory H2 database (as {@link H2JobStoreTest}). */
class H2JobUsageTest extends JobUsageContract {
    final H2JobStoreTest database = new H2JobStoreTest();

    @Override
    DataSource openDataSource() {
        return database.openDataSource();
    }

    @Override
    void closeDataSources() throws Exception {
        database.closeDataSources();
    }
}
