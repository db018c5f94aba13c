package dev.kaze.jobs.store;

import dev.kaze.jobs.JobStoreException;
import org.flywaydb.core.Flyway;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.SQLException;

/**
 * The job store's tables, migrated by Flyway from {@code db/migration/{vendor}} ({@code h2} or {@code postgresql}).
 * The Spring application lets Spring Boot's Flyway auto-configuration run them (spring.flyway.locations); this class
 * is for plain-Java use and tests.
 */
public final class JobSchema {
    /** The location with Spring Boot's {@code {vendor}} placeholder, as application.yml sets it. */
    public static final String LOCATIONS = "classpath:db/migration/{vendor}";

    private JobSchema() {
    }

    /** "h2" or "postgresql": the folder of migrations for the database behind {@code dataSource}. */
    public static String vendor(DataSource dataSource) {
        try (Connection c = dataSource.getConnection()) {
            return vendorOf(c.getMetaData().getDatabaseProductName());
        } catch (SQLException e) {
            throw new JobStoreException("could not connect to the job database to read its vendor: " + e.getMessage(), e);
        }
    }

    static String vendorOf(String productName) {
        return switch (productName) {
            case "H2" -> "h2";
            case "PostgreSQL" -> "postgresql";
            default -> throw new IllegalArgumentException("the job store runs on H2 or PostgreSQL, not on " + productName
                    + "; point spring.datasource.url at one of them");
        };
    }

    /**
     * Brings the schema up to date. {@code schema} null uses the connection's default schema; otherwise Flyway creates
     * that schema if needed and migrates it (the store's connections must then use it, e.g. currentSchema=… on
     * PostgreSQL or SCHEMA=… on H2).
     */
    public static void migrate(DataSource dataSource, String schema) {
        var config = Flyway.configure()
                .dataSource(dataSource)
                .locations(LOCATIONS.replace("{vendor}", vendor(dataSource)));
        if (schema != null) config = config.schemas(schema);
        config.load().migrate();
    }
}
