package dev.kaze.api;

import dev.kaze.jobs.Job;
import dev.kaze.jobs.JobEvents;
import dev.kaze.jobs.JobKind;
import dev.kaze.jobs.JobQueue;
import dev.kaze.jobs.JobStatus;
import dev.kaze.json.Json;
import dev.kaze.pipeline.GenerateRequest;
import dev.kaze.prompts.EnhancedPrompt;
import dev.kaze.prompts.EnhancerException;
import dev.kaze.prompts.PromptEnhancer;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.http.codec.ServerSentEvent;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestHeader;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import tools.jackson.databind.node.ObjectNode;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.regex.Pattern;

/** The videos API: create, read, list, cancel, delete, download, and the event stream over SSE. */
@RestController
@RequestMapping(VideoController.PATH)
public class VideoController {
    public static final String PATH = "/v1/videos";
    public static final int MAX_BODY_BYTES = 256 * 1024;
    private static final Pattern IDEMPOTENCY_KEY = Pattern.compile("[\\x21-\\x7e]{1,255}");

    private final JobQueue queue;
    private final JobEvents events;
    private final PromptEnhancer enhancer;

    public VideoController(JobQueue queue, JobEvents events, PromptEnhancer enhancer) {
        this.queue = queue;
        this.events = events;
        this.enhancer = enhancer;
    }

    @PostMapping
    public Mono<ResponseEntity<ObjectNode>> create(ServerWebExchange exchange) {
        Caller caller = Caller.of(exchange);
        List<String> keys = exchange.getRequest().getHeaders().getOrEmpty("Idempotency-Key");
        if (keys.size() > 1) return Mono.error(ValidationException.of("Idempotency-Key", "given more than once; send one key per request"));
        String idempotencyKey = keys.isEmpty() ? null : keys.getFirst();
        if (idempotencyKey != null && !IDEMPOTENCY_KEY.matcher(idempotencyKey).matches())
            return Mono.error(ValidationException.of("Idempotency-Key", "must be 1 to 255 visible ASCII characters"));
        return VideoBodies.read(exchange, MAX_BODY_BYTES)
                .map(body -> VideoCreateRequest.parse(body, queue.model().id()))
                .flatMap(req -> Requests.blocking(() -> {
                    req.requireLorasIn(queue.model().loras());
                    if (req.enhancePrompt() && !enhancer.enabled())
                        throw ValidationException.of("enhance_prompt", "the prompt enhancer is off on this server; leave enhance_prompt out, or "
                                + PromptController.HOW_TO_TURN_ON);
                    GenerateRequest.Enhancement enhancement = req.enhancePrompt() ? enhance(req.request().prompt()) : null;
                    GenerateRequest request = enhancement != null && enhancement.enhancedPrompt() != null
                            ? req.request().withPrompt(enhancement.enhancedPrompt()) : req.request();
                    GenerateRequest.Resolved resolved = queue.resolve(request);
                    if (enhancement != null) resolved = resolved.withEnhancement(enhancement);
                    Job job = queue.submit(caller.owner(), resolved, req.priority(), req.canonicalJson(), req.metadataJson(),
                            req.webhookJson(), idempotencyKey, req.requestHash());
                    return ResponseEntity.status(HttpStatus.ACCEPTED)
                            .header(HttpHeaders.LOCATION, PATH + "/" + job.id())
                            .body(view(job));
                }));
    }

    /**
     * The enhanced prompt for a video that asked for one (blocking, before the job is queued, so its resolved request
     * carries it); when the enhancer times out or fails the original prompt renders and the job records why.
     */
    private GenerateRequest.Enhancement enhance(String prompt) {
        try {
            EnhancedPrompt e = enhancer.enhance(prompt);
            return new GenerateRequest.Enhancement(GenerateRequest.Enhancement.ENHANCED, e.prompt(), e.model(), null);
        } catch (EnhancerException e) {
            String reason = (e.kind() == EnhancerException.Kind.TIMEOUT ? "timeout: " : "failed: ") + e.getMessage();
            return new GenerateRequest.Enhancement(GenerateRequest.Enhancement.FALLBACK, null, enhancer.model(), reason);
        }
    }

    private ObjectNode view(Job job) {
        Integer position = job.status() == JobStatus.QUEUED ? queue.store().queuePosition(job.id()) : null;
        Long eta = null;
        if (job.status() == JobStatus.IN_PROGRESS && job.step() > 0 && job.startedAt() != null) {
            double elapsed = Duration.between(job.startedAt(), Instant.now()).toMillis() / 1000.0;
            eta = Math.round(elapsed / job.step() * Math.max(0, job.totalSteps() - job.step()));
        }
        return VideoObject.of(job, position, eta, queue.store().usage(job.id()).orElse(null));
    }

    @GetMapping("/{id}")
    public Mono<ObjectNode> get(ServerWebExchange exchange, @PathVariable String id) {
        Caller caller = Caller.of(exchange);
        return Requests.blocking(() -> view(find(caller, id)));
    }

    @GetMapping
    public Mono<ObjectNode> list(ServerWebExchange exchange) {
        Caller caller = Caller.of(exchange);
        String limit = Requests.single(exchange, "limit"), status = Requests.single(exchange, "status"), after = Requests.single(exchange, "after");
        int n = Requests.limit(limit);
        JobStatus filter = status == null ? null : switch (status) {
            case "queued" -> JobStatus.QUEUED;
            case "in_progress" -> JobStatus.IN_PROGRESS;
            case "completed" -> JobStatus.COMPLETED;
            case "failed" -> JobStatus.FAILED;
            case "cancelled" -> JobStatus.CANCELLED;
            default -> throw ValidationException.of("status", "must be queued, in_progress, completed, failed or cancelled");
        };
        String order = Requests.single(exchange, "order");
        if (order != null && !order.equals("asc") && !order.equals("desc"))
            throw ValidationException.of("order", "must be asc or desc");
        boolean ascending = "asc".equals(order);
        Requests.after(after, "videos");
        return Requests.blocking(() -> ListPages.of(ListPages.fetch(() -> queue.list(caller.owner(), filter, after, n, ascending), "videos"),
                this::view));
    }

    @PostMapping("/{id}/cancel")
    public Mono<ObjectNode> cancel(ServerWebExchange exchange, @PathVariable String id) {
        Caller caller = Caller.of(exchange);
        return Requests.blocking(() -> {
            find(caller, id);
            return view(queue.cancel(caller.owner(), id));
        });
    }

    @DeleteMapping("/{id}")
    public Mono<ObjectNode> delete(ServerWebExchange exchange, @PathVariable String id) {
        Caller caller = Caller.of(exchange);
        return Requests.blocking(() -> {
            find(caller, id);
            queue.delete(caller.owner(), id);
            return Json.MAPPER.createObjectNode().put("id", id).put("object", "video.deleted").put("deleted", true);
        });
    }

    /**
     * The video, its thumbnail or its newest live preview, read from the file store (the data directory or the shared
     * bucket), with ETags, 304s and byte ranges.
     */
    @GetMapping("/{id}/content")
    public Mono<Void> content(ServerWebExchange exchange, @PathVariable String id) {
        Caller caller = Caller.of(exchange);
        String variant = Requests.single(exchange, "variant");
        if (variant == null) variant = "video";
        String file;
        MediaType type;
        switch (variant) {
            case "video" -> { file = "video.mp4"; type = MediaType.parseMediaType("video/mp4"); }
            case "thumbnail" -> { file = "thumbnail.jpg"; type = MediaType.IMAGE_JPEG; }
            case "preview" -> { file = "preview.gif"; type = MediaType.IMAGE_GIF; }
            default -> { return Mono.error(ValidationException.of("variant", "must be video, thumbnail or preview")); }
        }
        String v = variant;
        return Requests.blocking(() -> {
            Job job = find(caller, id);
            String key = JobQueue.fileKey(id, file);
            if (v.equals("preview"))   // the newest live preview: while the job runs and after
                return FileDownload.find(queue.files(), key, type, id + "-preview", id + "-preview.gif")
                        .orElseThrow(() -> new ApiException(HttpStatus.NOT_FOUND, "not-found", "video " + id + " has no preview yet: the first comes after"
                                + " its first denoising step, unless the request set previews to false; watch for the preview event"));
            if (job.status() != JobStatus.COMPLETED)
                throw new ApiException(HttpStatus.CONFLICT, "not-ready", "video " + id + " is " + VideoObject.status(job.status())
                        + "; its content is available once it is completed");
            return FileDownload.find(queue.files(), key, type, id + "-" + v, id + (v.equals("video") ? ".mp4" : ".jpg"))
                    .orElseThrow(() -> new ApiException(HttpStatus.NOT_FOUND, "not-found", "the " + v + " of " + id + " is gone"));
        }).flatMap(download -> download.write(exchange));
    }

    /** The job's event log over Server-Sent Events, resuming after Last-Event-ID (or ?after=). */
    @GetMapping(path = "/{id}/events", produces = MediaType.TEXT_EVENT_STREAM_VALUE)
    public Flux<ServerSentEvent<String>> sse(ServerWebExchange exchange, @PathVariable String id,
                                             @RequestHeader(name = "Last-Event-ID", required = false) String lastEventId,
                                             @RequestParam(required = false) String after) {
        Caller caller = Caller.of(exchange);
        return EventFrames.sse(events, lastEventId, after, () -> find(caller, id));
    }

    private Job find(Caller caller, String id) {
        return queue.get(caller.owner(), Requests.checkId(id), JobKind.VIDEO);
    }
}
