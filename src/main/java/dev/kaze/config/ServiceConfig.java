package dev.kaze.config;

import dev.kaze.api.ApiException;
import dev.kaze.api.ApiKeyFilter;
import dev.kaze.api.BodyLimitFilter;
import dev.kaze.api.FieldError;
import dev.kaze.api.ProblemErrorHandler;
import dev.kaze.api.ProblemWriter;
import dev.kaze.api.ValidationException;
import dev.kaze.api.VideoController;
import dev.kaze.api.JobEventsSocket;
import dev.kaze.api.LoraController;
import dev.kaze.api.TrainingController;
import dev.kaze.jobs.JobKind;
import dev.kaze.api.WireProblemHandler;
import org.springframework.boot.reactor.netty.NettyServerCustomizer;
import org.springframework.http.HttpStatus;
import reactor.netty.NettyPipeline;
import dev.kaze.jobs.DeviceWorker;
import dev.kaze.jobs.JobEvents;
import dev.kaze.jobs.JobQueue;
import dev.kaze.jobs.JobStore;
import dev.kaze.jobs.JobMetrics;
import dev.kaze.jobs.ModelInfo;
import dev.kaze.jobs.WebhookRelay;
import dev.kaze.jobs.webhooks.InMemoryWebhookOutbox;
import dev.kaze.jobs.webhooks.WebhookDispatcher;
import dev.kaze.jobs.webhooks.WebhookListener;
import dev.kaze.jobs.webhooks.WebhookSignature;
import dev.kaze.pipeline.GenerateRequest;
import dev.kaze.pipeline.LoraCatalog;
import dev.kaze.pipeline.ModelDirectory;
import dev.kaze.pipeline.PreviewModel;
import dev.kaze.pipeline.Recipe;
import dev.kaze.pipeline.WanModel;
import dev.kaze.pipeline.dit.DitConfig;
import dev.kaze.video.Mp4Encoder;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.event.ContextClosedEvent;
import org.springframework.context.event.EventListener;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.web.reactive.HandlerMapping;
import org.springframework.web.reactive.config.CorsRegistry;
import org.springframework.web.reactive.config.WebFluxConfigurer;
import org.springframework.web.reactive.handler.SimpleUrlHandlerMapping;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Mono;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/** Wires the long-lived objects: model info, queue, events, the device worker, the API's filters and sockets. */
@Configuration
public class ServiceConfig implements WebFluxConfigurer {
    private final KazeProperties props;

    public ServiceConfig(KazeProperties props) { this.props = props; }

    @Bean
    ModelInfo modelInfo() {
        KazeProperties.Models m = props.models();
        Path loraDir = m == null ? null : m.loras();
        if (m == null || m.dir() == null) {
            if (loraDir == null) loraDir = props.dataDir().resolve("loras");
            return new ModelInfo(PreviewModel.ID, true, new LoraCatalog(loraDir), List.of(), WanModel::previewDitShapes);
        }
        ModelDirectory.Files files = ModelDirectory.scan(m.dir());
        LoraCatalog catalog = new LoraCatalog(loraDir != null ? loraDir : files.loras());
        String id;
        if (files.ditConfig() != null) id = Recipe.modelId(DitConfig.read(files.ditConfig()));
        else try (var dit = dev.kaze.tensor.TensorSource.open(files.dit())) {   // headers only
            id = Recipe.modelId(DitConfig.detect(dit));
        }
        Path dit = files.dit();
        return new ModelInfo(id, false, catalog, Recipe.defaultLoras(catalog), () -> dev.kaze.tensor.TensorSource.open(dit));
    }

    @Bean
    JobQueue jobQueue(JobStore store, ModelInfo model) {
        Map<String, Integer> perKey = new java.util.HashMap<>();
        for (KazeProperties.ApiKey k : props.auth().keys()) if (k.maxQueued() != null) perKey.put(k.id(), k.maxQueued());
        return new JobQueue(store, model, props.dataDir(), props.limits().maxQueued(), props.limits().perKeyQueued(), perKey);
    }

    @Bean(destroyMethod = "close")
    JobEvents jobEvents(JobStore store) { return new JobEvents(store); }

    @Bean
    Mp4Encoder mp4Encoder() { return new Mp4Encoder(); }

    @Bean(destroyMethod = "close")
    DeviceWorker deviceWorker(JobQueue queue, ModelInfo model, Mp4Encoder encoder, JobMetrics metrics) {
        String device = props.device();
        return new DeviceWorker(queue, () -> {
            boolean cuda = device.startsWith("cuda");
            Device d = cuda ? new Device(device) : new Device(torch.DeviceType.CPU);
            dev.kaze.pipeline.ModelOptions options = props.modelOptions();
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
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("cannot keep the worker id in " + file + ": " + e.getMessage(), e);
        }
    }

    @Bean
    JobMetrics jobMetrics(io.micrometer.core.instrument.MeterRegistry registry, JobStore store) {
        return new JobMetrics(registry, store);
    }

    @EventListener(ApplicationReadyEvent.class)
    public void startWorker(ApplicationReadyEvent event) throws java.io.IOException {
        Files.createDirectories(props.dataDir());
        if (props.worker().enabled()) event.getApplicationContext().getBean(DeviceWorker.class).start();
    }

    /** The Standard Webhooks secret: configured, or generated once and kept in the data directory. */
    @Bean
    WebhookSecret webhookSecret() throws java.io.IOException {
        if (props.webhooks().secret() != null && !props.webhooks().secret().isBlank())
            return new WebhookSecret(props.webhooks().secret().strip());
        Path file = props.dataDir().resolve("webhook-secret");
        if (Files.isRegularFile(file)) return new WebhookSecret(Files.readString(file).strip());
        Files.createDirectories(props.dataDir());
        String secret = WebhookSignature.newSecret();
        Path tmp = Files.createTempFile(props.dataDir(), "webhook-secret", ".tmp");
        try {
            Files.setPosixFilePermissions(tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        } catch (UnsupportedOperationException ignored) {
            // not a POSIX file system
        }
        Files.writeString(tmp, secret);
        Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
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

    @Bean
    ProblemWriter problemWriter() { return new ProblemWriter(); }

    @Bean
    ApiKeyFilter apiKeyFilter(ProblemWriter problems) { return new ApiKeyFilter(props.auth(), problems); }

    /** One body size limit for every request, answered 413 as a problem. */
    @Bean
    BodyLimitFilter bodyLimitFilter(ProblemWriter problems) {
        return new BodyLimitFilter(VideoController.MAX_BODY_BYTES,
                List.of(LoraController.upload(props), TrainingController.upload(props)), problems);
    }

    /** Errors that escape the controllers (filters, codecs, handler mappings) as problem details too. */
    @Bean
    ProblemErrorHandler problemErrorHandler(ProblemWriter problems) { return new ProblemErrorHandler(problems); }

    /**
     * Requests Netty refuses before Spring sees them (bad request line, headers too large) also get a
     * problem body; a body that stalls or trickles is cut off with 408 instead of holding a connection.
     */
    @Bean
    NettyServerCustomizer wireProblems() {
        return server -> server
                .readTimeout(props.limits().readTimeout())
                .requestTimeout(props.limits().requestTimeout())
                .doOnChannelInit((observer, channel, address) -> {
                    if (channel.pipeline().get(NettyPipeline.HttpCodec) != null)
                        channel.pipeline().addAfter(NettyPipeline.HttpCodec, "kaze.wireProblems", new WireProblemHandler());
                });
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

    @Bean
    HandlerMapping videoEventsSocketMapping(JobQueue queue, JobEvents events, ApiKeyFilter keys) {
        SimpleUrlHandlerMapping mapping = new SimpleUrlHandlerMapping(Map.of(
                "/v1/videos/*/events", new JobEventsSocket(JobKind.VIDEO, queue, events, keys),
                "/v1/trainings/*/events", new JobEventsSocket(JobKind.TRAINING, queue, events, keys)), -1) {
            @Override
            public Mono<Object> getHandlerInternal(ServerWebExchange exchange) {
                // only WebSocket upgrades; the same path with Accept: text/event-stream is the SSE endpoint
                String upgrade = exchange.getRequest().getHeaders().getUpgrade();
                if (upgrade == null || !upgrade.equalsIgnoreCase("websocket")) return Mono.empty();
                return super.getHandlerInternal(exchange).flatMap(handler -> {
                    // a handshake RFC 6455 would refuse is a problem, not an upgrade
                    var headers = exchange.getRequest().getHeaders();
                    String version = headers.getFirst("Sec-WebSocket-Version");
                    if (version != null && !version.strip().equals("13"))
                        return Mono.error(new ApiException(HttpStatus.UPGRADE_REQUIRED, "websocket-version",
                                "WebSocket version " + FieldError.clip(version, 20) + " is not supported; use 13").header("Sec-WebSocket-Version", "13"));
                    String key = headers.getFirst("Sec-WebSocket-Key");
                    if (key != null && !validWebSocketKey(key))
                        return Mono.error(ValidationException.of("Sec-WebSocket-Key", "must be 16 random bytes in base64 (RFC 6455)"));
                    return Mono.just(handler);
                });
            }
        };
        return mapping;
    }

    static boolean validWebSocketKey(String key) {
        try {
            return java.util.Base64.getDecoder().decode(key.strip()).length == 16;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    @Override
    public void addCorsMappings(CorsRegistry registry) {
        List<String> origins = props.cors().allowedOrigins();
        if (origins.isEmpty()) return;
        registry.addMapping("/v1/**").allowedOrigins(origins.toArray(String[]::new))
                .allowedMethods("GET", "POST", "DELETE", "OPTIONS")
                // any request header: OpenAI's SDKs add X-Stainless-*, OpenAI-Organization and OpenAI-Project to every
                // call; keys travel in Authorization (no cookies), so this opens nothing to other origins
                .allowedHeaders("*")
                .exposedHeaders("Location", "Retry-After", "ETag", "Content-Range", "Accept-Ranges").maxAge(3600);
    }

    @EventListener(ContextClosedEvent.class)
    public void stopWorker(ContextClosedEvent event) throws InterruptedException {
        event.getApplicationContext().getBean(DeviceWorker.class).close();
    }
}
