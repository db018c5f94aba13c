package dev.kaze.config;

import dev.kaze.api.AdminKeyFile;
import dev.kaze.api.ApiKeyFilter;
import dev.kaze.api.ApiKeys;
import dev.kaze.api.BodyLimitFilter;
import dev.kaze.api.JobEventsSocketMapping;
import dev.kaze.api.ProblemErrorHandler;
import dev.kaze.api.ProblemWriter;
import dev.kaze.api.TrainingDatasets;
import dev.kaze.api.UploadLimits;
import dev.kaze.api.VideoController;
import dev.kaze.api.WireProblemHandler;
import dev.kaze.api.WorkerRoleFilter;
import dev.kaze.jobs.JobEvents;
import dev.kaze.jobs.JobQueue;
import dev.kaze.training.DatasetArchive;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.reactor.netty.NettyServerCustomizer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.web.reactive.HandlerMapping;
import org.springframework.web.reactive.config.CorsRegistry;
import org.springframework.web.reactive.config.WebFluxConfigurer;
import org.springframework.web.server.WebFilter;
import reactor.netty.NettyPipeline;

import java.util.List;

/**
 * The HTTP side: the API's settings as plain values (keys, upload limits, where datasets come from),
 * its filters (body limit, API keys), problem details for every error (also those Netty refuses
 * before Spring sees them), the WebSocket event streams and CORS.
 */
@Configuration(proxyBeanMethods = false)
public class WebConfig implements WebFluxConfigurer {
    private static final Logger log = LoggerFactory.getLogger(WebConfig.class);
    private final KazeProperties props;

    public WebConfig(KazeProperties props) { this.props = props; }

    /**
     * The configured keys; with none and anonymous access off, the admin key kept in the data directory
     * (created at the first start and shown in the log that once).
     */
    @Bean
    ApiKeys apiKeys() {
        KazeProperties.Auth auth = props.auth();
        if (auth.keys().isEmpty() && !auth.anonymous()) {
            AdminKeyFile admin = AdminKeyFile.loadOrCreate(props.dataDir().resolve("admin-key"));
            if (admin.created())
                log.warn("No API key is configured and anonymous access is off: created the admin API key {} in {} (mode 600). "
                        + "Send it as 'Authorization: Bearer <key>'; it is not shown again.", admin.key(), admin.file());
            else log.info("No API key is configured: using the admin API key in {}", admin.file());
            return new ApiKeys(false, List.of(admin.apiKey()), admin.hint());
        }
        return new ApiKeys(auth.anonymous(), auth.keys().stream()
                .map(k -> ApiKeys.Key.of(k.id(), k.sha256(), k.key(), "kaze.auth.keys").admin(Boolean.TRUE.equals(k.admin()))).toList());
    }

    @Bean
    UploadLimits uploadLimits() {
        return new UploadLimits(UploadLimits.lora(props.limits().loraUploadMax().toBytes(), "kaze.limits.lora-upload-max"),
                UploadLimits.dataset(props.training().uploadMax().toBytes(), "kaze.training.upload-max"));
    }

    @Bean
    TrainingDatasets trainingDatasets() {
        KazeProperties.Training t = props.training();
        long bytes = t.archiveMaxBytes().toBytes();
        return new TrainingDatasets(props.datasetsRoot(), props.dataDir().resolve("uploads"),
                new DatasetArchive.Limits(t.archiveMaxEntries(), bytes, bytes, t.archiveMaxRatio()));
    }

    @Bean
    ProblemWriter problemWriter() { return new ProblemWriter(); }

    @Bean
    ApiKeyFilter apiKeyFilter(ApiKeys keys, ProblemWriter problems) { return new ApiKeyFilter(keys, problems); }

    /** The worker role (kaze.role=worker) serves health and metrics only: everything else answers 404; other roles pass all. */
    @Bean
    WebFilter workerRoleFilter(ProblemWriter problems) {
        if (props.processRole().servesApi()) return (exchange, chain) -> chain.filter(exchange);
        return new WorkerRoleFilter(problems);
    }

    /** One body size limit for every request, answered 413 as a problem; uploads have their own. */
    @Bean
    BodyLimitFilter bodyLimitFilter(UploadLimits uploads, ProblemWriter problems) {
        return new BodyLimitFilter(VideoController.MAX_BODY_BYTES, uploads.all(), problems);
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

    /** WebSocket upgrades of the video and training event streams. */
    @Bean
    HandlerMapping jobEventsSocketMapping(JobQueue queue, JobEvents events, ApiKeyFilter keys) {
        return new JobEventsSocketMapping(queue, events, keys);
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
}
