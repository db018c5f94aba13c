package dev.kaze.config;

import dev.kaze.jobs.JobStore;
import dev.kaze.jobs.WebhookRelay;
import dev.kaze.jobs.webhooks.InMemoryWebhookOutbox;
import dev.kaze.jobs.webhooks.WebhookDispatcher;
import dev.kaze.jobs.webhooks.WebhookListener;
import dev.kaze.jobs.webhooks.WebhookSignature;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;

/** Webhooks: the Standard Webhooks signing secret and the relay that delivers job events to the callers' URLs. */
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
    WebhookRelay webhookRelay(JobStore store, WebhookSecret secret) {
        WebhookRelay relay = new WebhookRelay(store, new WebhookDispatcher(WebhookDispatcher.Settings.production(),
                new InMemoryWebhookOutbox(), WebhookListener.NONE), secret.value());
        relay.start();
        return relay;
    }
}
