package dev.kaze.config;

import dev.kaze.jobs.JdbcJobStore;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.sql.init.dependency.DependsOnDatabaseInitialization;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

import javax.sql.DataSource;
import java.time.Clock;
import java.time.Duration;

/**
 * The job store over Spring's DataSource (spring.datasource.*: an H2 file under ./data/kaze by default, PostgreSQL
 * for several replicas). Spring Boot's Flyway runs db/migration/{vendor} before the store is built.
 */
@Configuration(proxyBeanMethods = false)
public class JobStoreConfig {
    @Bean(destroyMethod = "close")
    @DependsOnDatabaseInitialization
    JdbcJobStore jobStore(DataSource dataSource,
                          @Value("${kaze.jobs.worker-timeout:10m}") Duration workerTimeout) {
        return new JdbcJobStore(dataSource, Clock.systemUTC(), workerTimeout);
    }
}
