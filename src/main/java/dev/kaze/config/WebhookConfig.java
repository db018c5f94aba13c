package dev.kaze.config;

import dev.kaze.jobs.JobStore;
import dev.kaze.jobs.WebhookRelay;
import dev.kaze.jobs.store.JdbcWebhookOutbox;
import dev.kaze.jobs.webhooks.WebhookDispatcher;
import dev.kaze.jobs.webhooks.WebhookListener;
import dev.kaze.jobs.webhooks.WebhookSignature;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.sql.init.dependency.DependsOnDatabaseInitialization;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.env.Environment;

import javax.sql.DataSource;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.util.HexFormat;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Webhooks: the Standard Webhooks signing secret and the relay that delivers job events to the callers' URLs. Pending
 * deliveries are kept in the job store ({@link JdbcWebhookOutbox}), claimed by this process under an id of its own
 * (host name + random suffix) for {@code kaze.webhooks.outbox-lease} (default 30s, renewed while it runs): after a
 * crash the next process, or another replica, sends them once the lease ran out. Events committed to the store that no
 * relay had saved to the outbox yet when its process died are caught up on when the relay starts and every minute
 * ({@link WebhookRelay.CatchUp}).
 */
@Configuration(proxyBeanMethods = false)
public class WebhookConfig {
    private final KazeProperties props;

    public WebhookConfig(KazeProperties props) { this.props = props; }

    /** The Standard Webhooks secret: configured, or generated once and kept in the data directory. */
    @Bean
    WebhookSecret webhookSecret() throws IOException {
        if (props.webhooks().secret() != null && !props.webhooks().secret().isBlank())
            return new WebhookSecret(props.webhooks().secret().strip());
        Path file = props.dataDir().resolve("webhook-secret");
        if (Files.isRegularFile(file)) return new WebhookSecret(Files.readString(file).strip());
        Files.createDirectories(props.dataDir());
        String secret = WebhookSignature.newSecret();
        Path tmp = Files.createTempFile(props.dataDir(), "webhook-secret", ".tmp");
        try {
            Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-------"));
        } catch (UnsupportedOperationException ignored) {
            // not a POSIX file system
        }
        Files.writeString(tmp, secret);
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE);
        return new WebhookSecret(secret);
    }

    /** The server's webhook signing secret. */
    public record WebhookSecret(String value) {
        @Override public String toString() { return "WebhookSecret[hidden]"; }
    }

    @Bean(destroyMethod = "close")
    @DependsOnDatabaseInitialization
    WebhookRelay webhookRelay(JobStore store, WebhookSecret secret, DataSource dataSource, Environment environment) {
        Duration lease = Binder.get(environment).bind("kaze.webhooks.outbox-lease", Duration.class)
                .orElse(JdbcWebhookOutbox.DEFAULT_LEASE);
        JdbcWebhookOutbox outbox = new JdbcWebhookOutbox(dataSource, replicaId(), lease, secret.value(), Clock.systemUTC());
        WebhookDispatcher.Settings settings = WebhookDispatcher.Settings.production();
        // the outbox keeps done deliveries for DONE_RETENTION: the catch-up re-reads a window safely inside it
        WebhookRelay relay = new WebhookRelay(store, new WebhookDispatcher(settings, outbox, WebhookListener.NONE),
                secret.value(), WebhookRelay.CatchUp.within(JdbcWebhookOutbox.DONE_RETENTION, settings.maxPending()),
                Clock.systemUTC());
        relay.start();
        return relay;
    }

    /** This process's name for its outbox claims: unique per start, recognisable in the table. */
    static String replicaId() {
        String host;
        try {
            host = InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            host = "kaze";
        }
        if (host.length() > 150) host = host.substring(0, 150);
        return host + "-" + ProcessHandle.current().pid() + "-" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
    }
}
