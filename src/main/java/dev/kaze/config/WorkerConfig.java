package dev.kaze.config;

import dev.kaze.jobs.DeviceWorker;
import dev.kaze.jobs.JobMetrics;
import dev.kaze.jobs.JobQueue;
import dev.kaze.jobs.JobStore;
import dev.kaze.jobs.ModelInfo;
import dev.kaze.models.Bundle;
import dev.kaze.models.CivitaiClient;
import dev.kaze.models.Downloader;
import dev.kaze.models.HttpGet;
import dev.kaze.models.HubClient;
import dev.kaze.models.ModelPaths;
import dev.kaze.models.ModelPulls;
import dev.kaze.models.Puller;
import dev.kaze.pipeline.LoraCatalog;
import dev.kaze.pipeline.ModelDirectory;
import dev.kaze.pipeline.ModelOptions;
import dev.kaze.pipeline.Recipe;
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
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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
            if (model.preview()) return WanModel.previewWith(model.loras(), d, options);
            ModelDirectory.ModelFiles files = ModelDirectory.scan(props.models().dir());
            // the served catalog (its bucket, if any) over the LoRA directory of the model directory as scanned now
            LoraCatalog loras = model.loras().withDirectory(props.models().loras() != null ? props.models().loras() : files.loras());
            return WanModel.openWith(files, loras, d, cuda ? torch.ScalarType.BFloat16 : torch.ScalarType.Float, options);
        }, encoder, metrics, new DeviceWorker.Settings(workerId(), props.worker().checkpointEvery(), props.previews().minInterval(),
                DeviceWorker.INCOMPLETE_RETRY));
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

    /**
     * Pulls for {@code POST /v1/models/{bundle}/pull}: model bundles into kaze.models.root, LoRAs into the served
     * catalog's directory; a pull that completes the served model's directory makes the worker load it.
     */
    @Bean
    ModelPulls modelPulls(ModelInfo model, DeviceWorker worker) {
        KazeProperties.Models m = props.models();
        Map<String, String> env = System.getenv();
        HttpGet http = HttpGet.create();
        HubClient hub = new HubClient(URI.create(setting(m == null ? null : m.hfEndpoint(), env.get("HF_ENDPOINT"), HubClient.DEFAULT_ENDPOINT)),
                setting(m == null ? null : m.hfToken(), env.get("HF_TOKEN"), null), http);
        CivitaiClient civitai = new CivitaiClient(URI.create(setting(m == null ? null : m.civitaiEndpoint(), env.get("CIVITAI_ENDPOINT"),
                CivitaiClient.DEFAULT_ENDPOINT)), setting(m == null ? null : m.civitaiToken(), env.get("CIVITAI_TOKEN"), null), http);
        Path loras = model.loras().directory() != null ? model.loras().directory() : props.dataDir().resolve("loras");
        ModelPaths paths = new ModelPaths(props.modelsRoot(), loras);
        Path served = props.modelDir();
        Path servedDir = served == null ? null : served.toAbsolutePath().normalize();
        return new ModelPulls(new Puller(hub, civitai, Downloader.create(), paths), served, bundle -> {
            if (bundle.kind() == Bundle.Kind.MODEL && paths.directory(bundle).equals(servedDir)) worker.reload();
        });
    }

    /** The property when set, else the environment variable when set, else the default. */
    private static String setting(String property, String env, String otherwise) {
        if (property != null && !property.isBlank()) return property.strip();
        if (env != null && !env.isBlank()) return env.strip();
        return otherwise;
    }

    @EventListener(ApplicationReadyEvent.class)
    public void startWorker(ApplicationReadyEvent event) throws IOException {
        Files.createDirectories(props.dataDir());
        if (props.processRole().runsWorker()) event.getApplicationContext().getBean(DeviceWorker.class).start();
    }

    /**
     * Readiness: the model is loaded and the worker takes jobs. Its details name each part of the model
     * directory (dit, dit_config, text_encoder, tokenizer, vae: present or missing, with what was looked for
     * where) and the recipe's LoRAs, so that an incomplete directory says what it still lacks. The api role
     * loads no model: it is ready to serve at once (role: api), whatever the workers elsewhere are doing.
     */
    @Bean
    HealthIndicator modelHealthIndicator(DeviceWorker worker, ModelInfo model) {
        KazeProperties.Role role = props.processRole();
        if (!role.runsWorker())
            return () -> Health.up().withDetail("role", "api").withDetail("model", model.id()).build();
        return () -> {
            boolean ready = worker.ready();
            String error = ready ? null : worker.loadError();
            Map<String, String> missing = missingParts(props.modelDir());
            Health.Builder b = ready ? Health.up() : error != null ? Health.down().withDetail("error", error) : Health.outOfService();
            b.withDetail("model", model.id());
            if (!ready) b.withDetail("state", error == null ? "loading" : missing.isEmpty() ? "failed" : "incomplete");
            if (props.modelDir() != null) {
                Path dir = props.modelDir().toAbsolutePath().normalize();
                boolean comfy = Files.isDirectory(dir.resolve("diffusion_models"));
                Map<String, String> parts = new LinkedHashMap<>();
                for (String part : ModelDirectory.PARTS)
                    parts.put(part, missing.containsKey(part) ? "missing" : comfy && part.equals("dit_config") ? "not_needed" : "present");
                b.withDetail("model_dir", dir.toString()).withDetail("parts", parts);
                if (!missing.isEmpty()) b.withDetail("missing", List.copyOf(missing.values()));
            }
            Map<String, String> loras = new LinkedHashMap<>();
            for (String name : List.of(Recipe.STYLE_LORA, Recipe.DISTILL_LORA))
                loras.put(name, model.loras().has(name) ? "present" : "missing");
            return b.withDetail("loras", loras).build();
        };
    }

    /** The parts the model directory lacks (part: what was looked for where); none for the preview model. */
    private static Map<String, String> missingParts(Path dir) {
        if (dir == null) return Map.of();
        try {
            ModelDirectory.scan(dir);
            return Map.of();
        } catch (ModelDirectory.IncompleteException e) {
            if (e.missing().isEmpty()) return Map.of("dit", e.getMessage());
            Map<String, String> missing = new LinkedHashMap<>();
            for (String part : ModelDirectory.PARTS) if (e.missing().containsKey(part)) missing.put(part, e.missing().get(part));
            return missing;
        }
    }

    @EventListener(ContextClosedEvent.class)
    public void stopWorker(ContextClosedEvent event) throws InterruptedException {
        event.getApplicationContext().getBean(DeviceWorker.class).close();
    }
}
