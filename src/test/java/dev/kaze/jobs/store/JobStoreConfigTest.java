package dev.kaze.jobs.store;

import dev.kaze.config.JobStoreConfig;
import dev.kaze.jobs.Job;
import dev.kaze.jobs.JobStore;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.flyway.autoconfigure.FlywayAutoConfiguration;
import org.springframework.boot.jdbc.autoconfigure.DataSourceAutoConfiguration;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;

import java.time.Duration;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/** Spring wiring: Boot's Flyway migrates db/migration/{vendor} before JobStoreConfig builds the store. */
class JobStoreConfigTest {
    @Test
    void theStoreIsBuiltOnAMigratedDatabase() {
        new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(DataSourceAutoConfiguration.class, FlywayAutoConfiguration.class))
                .withUserConfiguration(JobStoreConfig.class)
                .withPropertyValues(
                        "spring.datasource.url=jdbc:h2:mem:cfg_" + UUID.randomUUID() + ";DB_CLOSE_DELAY=-1",
                        "spring.flyway.locations=" + JobSchema.LOCATIONS,
                        "kaze.jobs.worker-timeout=90s")
                .run(context -> {
                    assertThat(context).hasNotFailed();
                    JobStore store = context.getBean(JobStore.class);
                    Job job = store.create(JobStoreContract.video("alice", 0));
                    assertThat(store.find(job.id())).contains(job);
                    assertThat(context.getBean(JdbcJobStore.class).dialect()).isInstanceOf(SqlDialect.H2.class);
                    assertThat(context.getBean(JdbcJobStore.class).workerTimeout()).isEqualTo(Duration.ofSeconds(90));
                });
    }
}
