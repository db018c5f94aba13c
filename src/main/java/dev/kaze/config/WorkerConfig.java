package dev.kaze.config;

import dev.kaze.jobs.DeviceWorker;
import dev.kaze.jobs.JobMetrics;
import dev.kaze.jobs.JobQueue;
import dev.kaze.jobs.JobStore;
import dev.kaze.jobs.ModelInfo;
import dev.kaze.pipeline.ModelDirectory;
import dev.kaze.pipeline.ModelOptions;
import dev.kaze.pipeline.WanModel;
import dev.kaze.video.Mp4Encoder;
import io.micrometer.core.instrument.MeterRegistry;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.event.ContextClosedEvent;
import org.springframework.context.event.EventListener;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;

/**
 * The device worker: the model it loads on the configured device, its id kept in the data directory,
 * its metrics, readiness; started once the application is ready and closed with the context.
 */
@Configuration(proxyBeanMethods = false)
public class WorkerConfig {
    private final KazeProperties props;

    public WorkerConfig(KazeProperties props) { this.props = props; }

    @Bean(destroyMethod = "close")
    DeviceWorker deviceWorker(JobQueue queue, ModelInfo model, Mp4Encoder encoder, JobMetrics metrics) {
        String device = props.device();
        return new DeviceWorker(queue, () -> {
            boolean cuda = device.startsWith("cuda");
            Device d = cuda ? new Device(device) : new Device(torch.DeviceType.CPU);
            ModelOptions options = props.modelOptions();
            if (model.preview()) return WanModel.preview(model.loras().directory(), d, options);
            return WanModel.open(ModelDirectory.scan(props.models().dir()), props.models().loras(), d,
                    cuda ? torch.ScalarType.BFloat16 : torch.ScalarType.Float, options);
        }, encoder, metrics, workerId(), props.worker().checkpointEvery());
    }

    /**
     * This installation's worker id, kept in the data directory: after a crash the restarted
     * process claims back its own interrupted jobs at once (other workers' only once they time out).
     */
    private String workerId() {
        Path file = props.dataDir().resolve("worker-id");
        try {
            if (Files.isRegularFile(file)) return Files.readString(file).strip();
            Files.createDirectories(props.dataDir());
            String id = "worker-" + UUID.randomUUID().toString().substring(0, 8);
            Files.writeString(file, id);
            return id;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot keep the worker id in " + file + ": " + e.getMessage(), e);
        }
    }

    @Bean
    JobMetrics jobMetrics(MeterRegistry registry, JobStore store) {
        return new JobMetrics(registry, store);
    }

    @EventListener(ApplicationReadyEvent.class)
    public void startWorker(ApplicationReadyEvent event) throws IOException {
        Files.createDirectories(props.dataDir());
        if (props.worker().enabled()) event.getApplicationContext().getBean(DeviceWorker.class).start();
    }

    /** Readiness: the model is loaded and the worker takes jobs. */
    @Bean
    HealthIndicator modelHealthIndicator(DeviceWorker worker, ModelInfo model) {
        return () -> {
            if (worker.ready()) return Health.up().withDetail("model", model.id()).build();
            Health.Builder b = worker.loadError() != null ? Health.down().withDetail("error", worker.loadError()) : Health.outOfService();
            return b.withDetail("model", model.id()).withDetail("state", worker.loadError() != null ? "failed" : "loading").build();
        };
    }

    @EventListener(ContextClosedEvent.class)
    public void stopWorker(ContextClosedEvent event) throws InterruptedException {
        event.getApplicationContext().getBean(DeviceWorker.class).close();
    }
}
