package dev.kaze.api;

import dev.kaze.jobs.Job;
import dev.kaze.jobs.JobEvent;
import dev.kaze.jobs.JobEvents;
import dev.kaze.jobs.JobPage;
import dev.kaze.jobs.JobQueue;
import dev.kaze.jobs.JobStatus;
import dev.kaze.jobs.RequestJson;
import dev.kaze.pipeline.GenerateRequest;
import org.springframework.core.io.FileSystemResource;
import org.springframework.core.io.Resource;
import org.springframework.http.CacheControl;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.http.codec.ServerSentEvent;
import org.springframework.http.codec.multipart.FormFieldPart;
import org.springframework.http.codec.multipart.Part;
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
import reactor.core.scheduler.Schedulers;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;

/** The videos API: create, read, list, cancel, delete, download, and the event stream over SSE. */
@RestController
@RequestMapping("/v1/videos")
public class VideoController {
    static final int MAX_BODY_BYTES = 256 * 1024;
    private static final Pattern ID = Pattern.compile("[A-Za-z0-9_-]{1,64}");
    private static final Pattern IDEMPOTENCY_KEY = Pattern.compile("[\\x21-\\x7e]{1,255}");
    private static final JsonMapper JSON = JsonMapper.builder().build();

    private final JobQueue queue;
    private final JobEvents events;

    public VideoController(JobQueue queue, JobEvents events) {
        this.queue = queue;
        this.events = events;
    }

    private static <T> Mono<T> blocking(Callable<T> call) {
        return Mono.fromCallable(call).subscribeOn(Schedulers.boundedElastic());
    }

    static String checkId(String id) {
        if (!ID.matcher(id).matches()) throw new dev.kaze.jobs.JobNotFoundException(id.length() > 64 ? id.substring(0, 64) : id);
        return id;
    }

    @PostMapping
    public Mono<ResponseEntity<ObjectNode>> create(ServerWebExchange exchange,
                                                  @RequestHeader(name = "Idempotency-Key", required = false) String idempotencyKey) {
        Caller caller = Caller.of(exchange);
        if (idempotencyKey != null && !IDEMPOTENCY_KEY.matcher(idempotencyKey).matches())
            return Mono.error(ValidationException.of("Idempotency-Key", "must be 1 to 255 visible ASCII characters"));
        return body(exchange)
                .map(body -> VideoCreateRequest.parse(body, queue.model().id()))
                .flatMap(req -> blocking(() -> {
                    GenerateRequest.Resolved resolved = queue.resolve(req.request());
                    Job job = queue.submit(caller.owner(), resolved, req.priority(), req.canonicalJson(), req.metadataJson(),
                            req.webhookJson(), idempotencyKey, req.requestHash());
                    return ResponseEntity.status(HttpStatus.ACCEPTED)
                            .header(HttpHeaders.LOCATION, "/v1/videos/" + job.id())
                            .body(view(job));
                }));
    }

    /** The create body as JSON, from application/json, multipart/form-data or a urlencoded form. */
    private Mono<JsonNode> body(ServerWebExchange exchange) {
        MediaType type = exchange.getRequest().getHeaders().getContentType();
        if (type == null) type = MediaType.APPLICATION_JSON;
        if (type.isCompatibleWith(MediaType.MULTIPART_FORM_DATA)) {
            return exchange.getMultipartData().map(parts -> {
                Map<String, List<String>> form = new LinkedHashMap<>();
                for (var e : parts.entrySet()) {
                    List<String> values = new java.util.ArrayList<>();
                    for (Part p : e.getValue()) {
                        if (!(p instanceof FormFieldPart f)) throw ValidationException.of(e.getKey(), "file uploads are not accepted here");
                        values.add(f.value());
                    }
                    form.put(e.getKey(), values);
                }
                return (JsonNode) VideoCreateRequest.fromForm(form);
            });
        }
        if (type.isCompatibleWith(MediaType.APPLICATION_FORM_URLENCODED))
            return exchange.getFormData().map(form -> (JsonNode) VideoCreateRequest.fromForm(form));
        if (!type.isCompatibleWith(MediaType.APPLICATION_JSON) && !type.getSubtype().endsWith("+json"))
            return Mono.error(new ApiException(HttpStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type",
                    "send application/json, multipart/form-data or application/x-www-form-urlencoded"));
        return org.springframework.core.io.buffer.DataBufferUtils.join(exchange.getRequest().getBody(), MAX_BODY_BYTES)
                .map(buffer -> {
                    try {
                        byte[] bytes = new byte[buffer.readableByteCount()];
                        buffer.read(bytes);
                        return bytes;
                    } finally {
                        org.springframework.core.io.buffer.DataBufferUtils.release(buffer);
                    }
                })
                .onErrorMap(org.springframework.core.io.buffer.DataBufferLimitException.class,
                        e -> new ApiException(HttpStatus.PAYLOAD_TOO_LARGE, "payload-too-large", "the body is larger than " + MAX_BODY_BYTES + " bytes"))
                .defaultIfEmpty(new byte[0])
                .map(bytes -> {
                    if (bytes.length == 0) throw ValidationException.of("body", "is empty; send a JSON object with a prompt");
                    try {
                        return JSON.readTree(new String(bytes, StandardCharsets.UTF_8));
                    } catch (RuntimeException e) {
                        throw ValidationException.of("body", "is not valid JSON");
                    }
                });
    }

    private ObjectNode view(Job job) {
        Integer position = job.status() == JobStatus.QUEUED ? queue.store().queuePosition(job.id()) : null;
        Long eta = null;
        if (job.status() == JobStatus.IN_PROGRESS && job.step() > 0 && job.startedAt() != null) {
            double elapsed = java.time.Duration.between(job.startedAt(), java.time.Instant.now()).toMillis() / 1000.0;
            eta = Math.round(elapsed / job.step() * Math.max(0, job.totalSteps() - job.step()));
        }
        return VideoObject.of(job, position, eta);
    }

    @GetMapping("/{id}")
    public Mono<ObjectNode> get(ServerWebExchange exchange, @PathVariable String id) {
        Caller caller = Caller.of(exchange);
        return blocking(() -> view(queue.get(caller.owner(), checkId(id))));
    }

    @GetMapping
    public Mono<ObjectNode> list(ServerWebExchange exchange, @RequestParam(required = false) String after,
                                 @RequestParam(required = false) String status, @RequestParam(required = false) String limit,
                                 @RequestParam(required = false) String order) {
        Caller caller = Caller.of(exchange);
        int n = 20;
        if (limit != null) {
            try {
                n = Integer.parseInt(limit);
            } catch (NumberFormatException e) {
                n = -1;
            }
            if (n < 1 || n > 100) return Mono.error(ValidationException.of("limit", "must be an integer between 1 and 100"));
        }
        JobStatus filter = null;
        if (status != null) {
            filter = switch (status) {
                case "queued" -> JobStatus.QUEUED;
                case "in_progress" -> JobStatus.IN_PROGRESS;
                case "completed" -> JobStatus.COMPLETED;
                case "failed" -> JobStatus.FAILED;
                case "cancelled" -> JobStatus.CANCELLED;
                default -> null;
            };
            if (filter == null) return Mono.error(ValidationException.of("status", "must be queued, in_progress, completed, failed or cancelled"));
        }
        if (order != null && !order.equals("asc") && !order.equals("desc"))
            return Mono.error(ValidationException.of("order", "must be asc or desc"));
        boolean ascending = "asc".equals(order);
        if (after != null && after.length() > 256)
            return Mono.error(ValidationException.of("after", "is neither the id of one of your videos nor a cursor this server gave"));
        JobStatus f = filter;
        int limitN = n;
        return blocking(() -> {
            JobPage page;
            try {
                page = queue.list(caller.owner(), f, after, limitN, ascending);
            } catch (IllegalArgumentException e) {
                throw ValidationException.of("after", "is neither the id of one of your videos nor a cursor this server gave");
            }
            ObjectNode out = JSON.createObjectNode().put("object", "list");
            var data = out.putArray("data");
            page.jobs().forEach(j -> data.add(view(j)));
            if (page.jobs().isEmpty()) { out.putNull("first_id"); out.putNull("last_id"); }
            else { out.put("first_id", page.jobs().getFirst().id()); out.put("last_id", page.jobs().getLast().id()); }
            out.put("has_more", page.nextCursor() != null);
            if (page.nextCursor() != null) out.put("next_cursor", page.nextCursor()); else out.putNull("next_cursor");
            return out;
        });
    }

    @PostMapping("/{id}/cancel")
    public Mono<ObjectNode> cancel(ServerWebExchange exchange, @PathVariable String id) {
        Caller caller = Caller.of(exchange);
        return blocking(() -> view(queue.cancel(caller.owner(), checkId(id))));
    }

    @DeleteMapping("/{id}")
    public Mono<ObjectNode> delete(ServerWebExchange exchange, @PathVariable String id) {
        Caller caller = Caller.of(exchange);
        return blocking(() -> {
            queue.delete(caller.owner(), checkId(id));
            return JSON.createObjectNode().put("id", id).put("object", "video.deleted").put("deleted", true);
        });
    }

    @GetMapping("/{id}/content")
    public Mono<ResponseEntity<Resource>> content(ServerWebExchange exchange, @PathVariable String id,
                                                  @RequestParam(defaultValue = "video") String variant) {
        Caller caller = Caller.of(exchange);
        String file;
        MediaType type;
        switch (variant) {
            case "video" -> { file = "video.mp4"; type = MediaType.parseMediaType("video/mp4"); }
            case "thumbnail" -> { file = "thumbnail.jpg"; type = MediaType.IMAGE_JPEG; }
            default -> { return Mono.error(ValidationException.of("variant", "must be video or thumbnail")); }
        }
        return blocking(() -> {
            Job job = queue.get(caller.owner(), checkId(id));
            if (job.status() != JobStatus.COMPLETED)
                throw new ApiException(HttpStatus.CONFLICT, "not-ready", "video " + id + " is " + VideoObject.status(job.status())
                        + "; its content is available once it is completed");
            Path path = queue.jobDir(id).resolve(file);
            if (!Files.isRegularFile(path)) throw new ApiException(HttpStatus.NOT_FOUND, "not-found", "the " + variant + " of " + id + " is gone");
            String etag = "\"" + id + "-" + variant + "-" + Files.size(path) + "-" + Files.getLastModifiedTime(path).toMillis() + "\"";
            if (exchange.getRequest().getHeaders().getIfNoneMatch().contains(etag))
                return ResponseEntity.status(HttpStatus.NOT_MODIFIED).eTag(etag).<Resource>build();
            return ResponseEntity.ok().contentType(type).eTag(etag)
                    .header(HttpHeaders.ACCEPT_RANGES, "bytes")
                    .cacheControl(CacheControl.maxAge(java.time.Duration.ofHours(1)).cachePrivate())
                    .header(HttpHeaders.CONTENT_DISPOSITION, "inline; filename=\"" + id + (variant.equals("video") ? ".mp4" : ".jpg") + "\"")
                    .body((Resource) new FileSystemResource(path));
        });
    }

    /** The job's event log over Server-Sent Events, resuming after Last-Event-ID (or ?after=). */
    @GetMapping(path = "/{id}/events", produces = MediaType.TEXT_EVENT_STREAM_VALUE)
    public Flux<ServerSentEvent<String>> sse(ServerWebExchange exchange, @PathVariable String id,
                                             @RequestHeader(name = "Last-Event-ID", required = false) String lastEventId,
                                             @RequestParam(required = false) String after) {
        Caller caller = Caller.of(exchange);
        long from = EventFrames.after(lastEventId != null ? lastEventId : after);
        return blocking(() -> queue.get(caller.owner(), checkId(id)))
                .flatMapMany(job -> events.stream(job.id(), from))
                .map(e -> ServerSentEvent.builder(EventFrames.json(e)).id(Long.toString(e.seq())).event(e.type()).build());
    }

    static JsonNode eventData(JobEvent e) { return EventFrames.data(e); }

    static String resolvedOf(GenerateRequest.Resolved r, String model) { return RequestJson.write(r, model).toString(); }
}
