package dev.kaze.config;

import dev.kaze.jobs.store.JdbcJobStore;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.sql.init.dependency.DependsOnDatabaseInitialization;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.env.Environment;

import javax.sql.DataSource;
import java.time.Clock;
import java.time.Duration;

/**
 * The job store over Spring's DataSource (spring.datasource.*: an H2 file under ./data/kaze by default, PostgreSQL
 * for several replicas). Spring Boot's Flyway runs db/migration/{vendor} before the store is built.
 * {@code kaze.jobs.worker-timeout} (default 10m): how long a silent worker counts as alive.
 */
@Configuration(proxyBeanMethods = false)
public class JobStoreConfig {
    @Bean(destroyMethod = "close")
    @DependsOnDatabaseInitialization
    JdbcJobStore jobStore(DataSource dataSource, Environment environment) {
        Duration workerTimeout = Binder.get(environment).bind("kaze.jobs.worker-timeout", Duration.class)
                .orElse(JdbcJobStore.DEFAULT_WORKER_TIMEOUT);
        return new JdbcJobStore(dataSource, Clock.systemUTC(), workerTimeout);
    }
}
