package dev.kaze.api;

import dev.kaze.jobs.Job;
import dev.kaze.jobs.JobEvents;
import dev.kaze.jobs.JobKind;
import dev.kaze.jobs.JobQueue;
import dev.kaze.jobs.JobStatus;
import dev.kaze.json.Json;
import dev.kaze.pipeline.GenerateRequest;
import org.springframework.core.io.FileSystemResource;
import org.springframework.core.io.Resource;
import org.springframework.core.io.buffer.DataBufferLimitException;
import org.springframework.http.CacheControl;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpRange;
import org.springframework.http.HttpStatus;
import org.springframework.http.InvalidMediaTypeException;
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
import reactor.netty.channel.AbortedException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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

    public VideoController(JobQueue queue, JobEvents events) {
        this.queue = queue;
        this.events = events;
    }

    @PostMapping
    public Mono<ResponseEntity<ObjectNode>> create(ServerWebExchange exchange) {
        Caller caller = Caller.of(exchange);
        List<String> keys = exchange.getRequest().getHeaders().getOrEmpty("Idempotency-Key");
        if (keys.size() > 1) return Mono.error(ValidationException.of("Idempotency-Key", "given more than once; send one key per request"));
        String idempotencyKey = keys.isEmpty() ? null : keys.getFirst();
        if (idempotencyKey != null && !IDEMPOTENCY_KEY.matcher(idempotencyKey).matches())
            return Mono.error(ValidationException.of("Idempotency-Key", "must be 1 to 255 visible ASCII characters"));
        return body(exchange)
                .map(body -> VideoCreateRequest.parse(body, queue.model().id()))
                .flatMap(req -> Requests.blocking(() -> {
                    checkLoras(req.request());
                    GenerateRequest.Resolved resolved = queue.resolve(req.request());
                    Job job = queue.submit(caller.owner(), resolved, req.priority(), req.canonicalJson(), req.metadataJson(),
                            req.webhookJson(), idempotencyKey, req.requestHash());
                    return ResponseEntity.status(HttpStatus.ACCEPTED)
                            .header(HttpHeaders.LOCATION, PATH + "/" + job.id())
                            .body(view(job));
                }));
    }

    /** Every requested LoRA is in the catalog (named without revealing where the catalog lives). */
    private void checkLoras(GenerateRequest request) {
        if (request.loras() == null) return;
        List<FieldError> errors = new ArrayList<>();
        for (int i = 0; i < request.loras().size(); i++) {
            String name = request.loras().get(i).name();
            if (!queue.model().loras().has(name)) {
                List<String> known = queue.model().loras().names();
                errors.add(new FieldError("loras", "no LoRA named '" + name + "' (loras[" + i + "]) on this server"
                        + (known.isEmpty() ? "; it has none" : known.size() <= 20 ? "; it has " + String.join(", ", known) : "")));
            }
        }
        if (!errors.isEmpty()) throw new ValidationException(errors);
    }

    private static ApiException unsupported(String why) {
        return new ApiException(HttpStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type",
                why + "; send application/json (UTF-8), multipart/form-data or application/x-www-form-urlencoded");
    }

    /** The declared Content-Type, or JSON when there is none; one that cannot be served is a 415. */
    private static MediaType contentType(ServerWebExchange exchange) {
        List<String> declared = exchange.getRequest().getHeaders().getOrEmpty(HttpHeaders.CONTENT_TYPE);
        if (declared.size() > 1) throw ValidationException.of("Content-Type", "given more than once");
        if (declared.isEmpty() || declared.getFirst().isBlank()) return MediaType.APPLICATION_JSON;
        MediaType type;
        try {
            type = MediaType.parseMediaType(declared.getFirst());
        } catch (InvalidMediaTypeException e) {
            throw unsupported("Content-Type '" + FieldError.clip(declared.getFirst(), 100) + "' is not a valid media type");
        }
        if (type.isWildcardType() || type.isWildcardSubtype()) throw unsupported("Content-Type " + type + " is a wildcard, not a type");
        String charset = type.getParameter("charset");
        if (charset != null) {
            String name = charset.replace("\"", "").strip();
            if (!name.equalsIgnoreCase("utf-8") && !name.equalsIgnoreCase("utf8"))
                throw unsupported("charset " + FieldError.clip(name, 40) + " is not accepted; the body must be UTF-8");
        }
        return type;
    }

    /** The create body as JSON, from application/json, multipart/form-data or a urlencoded form. */
    private Mono<JsonNode> body(ServerWebExchange exchange) {
        MediaType type;
        try {
            type = contentType(exchange);
        } catch (RuntimeException e) {
            return Mono.error(e);
        }
        if (type.equalsTypeAndSubtype(MediaType.MULTIPART_FORM_DATA)) {
            if (type.getParameter("boundary") == null)
                return Mono.error(ValidationException.of("Content-Type", "multipart/form-data needs a boundary parameter"));
            return exchange.getMultipartData().onErrorMap(e -> !(e instanceof ApiException), VideoController::unreadable).map(parts -> {
                Map<String, List<String>> form = new LinkedHashMap<>();
                for (var e : parts.entrySet()) {
                    List<String> values = new ArrayList<>();
                    for (Part p : e.getValue()) {
                        if (!(p instanceof FormFieldPart f)) throw ValidationException.of(e.getKey(), "file uploads are not accepted here");
                        values.add(f.value());
                    }
                    form.put(e.getKey(), values);
                }
                return (JsonNode) VideoCreateRequest.fromForm(form);
            });
        }
        if (type.equalsTypeAndSubtype(MediaType.APPLICATION_FORM_URLENCODED))
            return exchange.getFormData().onErrorMap(e -> !(e instanceof ApiException), VideoController::unreadable)
                    .map(form -> (JsonNode) VideoCreateRequest.fromForm(form));
        if (!(type.getType().equals("application") && JsonBodies.isJson(type)))
            return Mono.error(unsupported("Content-Type " + FieldError.clip(type.toString(), 100) + " is not accepted"));
        return JsonBodies.read(exchange, MAX_BODY_BYTES);
    }

    /** A form or multipart body the codecs could not take apart: the client's fault, unless it was too large. */
    private static Throwable unreadable(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause())
            if (t instanceof DataBufferLimitException l)
                return new ApiException(HttpStatus.PAYLOAD_TOO_LARGE, "payload-too-large",
                        "the form is larger than this server accepts: " + ProblemWriter.clean(l.getMessage()));
        if (e instanceof AbortedException) return e;
        String why = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        if (why.equals("No name available")) why = "a part has no name in its Content-Disposition";
        return ValidationException.of("body", "is not a readable form: " + ProblemWriter.clean(why));
    }

    private ObjectNode view(Job job) {
        Integer position = job.status() == JobStatus.QUEUED ? queue.store().queuePosition(job.id()) : null;
        Long eta = null;
        if (job.status() == JobStatus.IN_PROGRESS && job.step() > 0 && job.startedAt() != null) {
            double elapsed = Duration.between(job.startedAt(), Instant.now()).toMillis() / 1000.0;
            eta = Math.round(elapsed / job.step() * Math.max(0, job.totalSteps() - job.step()));
        }
        return VideoObject.of(job, position, eta);
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

    @GetMapping("/{id}/content")
    public Mono<ResponseEntity<Resource>> content(ServerWebExchange exchange, @PathVariable String id) {
        Caller caller = Caller.of(exchange);
        String variant = Requests.single(exchange, "variant");
        if (variant == null) variant = "video";
        String file;
        MediaType type;
        switch (variant) {
            case "video" -> { file = "video.mp4"; type = MediaType.parseMediaType("video/mp4"); }
            case "thumbnail" -> { file = "thumbnail.jpg"; type = MediaType.IMAGE_JPEG; }
            default -> { return Mono.error(ValidationException.of("variant", "must be video or thumbnail")); }
        }
        String v = variant;
        return Requests.blocking(() -> {
            Job job = find(caller, id);
            if (job.status() != JobStatus.COMPLETED)
                throw new ApiException(HttpStatus.CONFLICT, "not-ready", "video " + id + " is " + VideoObject.status(job.status())
                        + "; its content is available once it is completed");
            Path path = queue.jobDir(id).resolve(file);
            if (!Files.isRegularFile(path)) throw new ApiException(HttpStatus.NOT_FOUND, "not-found", "the " + v + " of " + id + " is gone");
            String etag = "\"" + id + "-" + v + "-" + Files.size(path) + "-" + Files.getLastModifiedTime(path).toMillis() + "\"";
            List<String> ifNoneMatch;
            try {
                ifNoneMatch = exchange.getRequest().getHeaders().getIfNoneMatch();
            } catch (IllegalArgumentException e) {
                throw ValidationException.of("If-None-Match", "must be * or a list of quoted ETags");
            }
            if (ifNoneMatch.contains(etag) || ifNoneMatch.contains("*"))
                return ResponseEntity.status(HttpStatus.NOT_MODIFIED).eTag(etag).<Resource>build();
            Resource resource = new FileSystemResource(path);
            checkRange(exchange, resource);
            return ResponseEntity.ok().contentType(type).eTag(etag)
                    .header(HttpHeaders.ACCEPT_RANGES, "bytes")
                    .cacheControl(CacheControl.maxAge(Duration.ofHours(1)).cachePrivate())
                    .header(HttpHeaders.CONTENT_DISPOSITION, "inline; filename=\"" + id + (v.equals("video") ? ".mp4" : ".jpg") + "\"")
                    .body(resource);
        });
    }

    /** A Range header that cannot be served is a 416 problem (with Content-Range: bytes *&#47;length), not an empty answer. */
    private static void checkRange(ServerWebExchange exchange, Resource resource) throws IOException {
        String header = exchange.getRequest().getHeaders().getFirst(HttpHeaders.RANGE);
        if (header == null) return;
        long length = resource.contentLength();
        try {
            List<HttpRange> ranges = exchange.getRequest().getHeaders().getRange();
            if (!ranges.isEmpty()) HttpRange.toResourceRegions(ranges, resource);
        } catch (IllegalArgumentException e) {
            throw new ApiException(HttpStatus.REQUESTED_RANGE_NOT_SATISFIABLE, "range-not-satisfiable",
                    "Range '" + FieldError.clip(ProblemWriter.clean(header), 80) + "' cannot be served from " + length
                            + " bytes; ask for bytes=first-last within them (at most 100 ranges)")
                    .header(HttpHeaders.CONTENT_RANGE, "bytes */" + length);
        }
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
