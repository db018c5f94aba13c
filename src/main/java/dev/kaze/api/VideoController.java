package dev.kaze.api;

import dev.kaze.jobs.Job;
import dev.kaze.jobs.JobEvent;
import dev.kaze.jobs.JobEvents;
import dev.kaze.jobs.JobKind;
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
    public static final int MAX_BODY_BYTES = 256 * 1024;
    private static final Pattern ID = Pattern.compile("[A-Za-z0-9_-]{1,64}");
    private static final Pattern IDEMPOTENCY_KEY = Pattern.compile("[\\x21-\\x7e]{1,255}");
    private static final JsonMapper JSON = JsonMapper.builder().build();
    /** For request bodies: duplicate keys are an error, nesting and number lengths are bounded. */
    static final JsonMapper STRICT_JSON = JsonMapper.builder(tools.jackson.core.json.JsonFactory.builder()
                    .enable(tools.jackson.core.StreamReadFeature.STRICT_DUPLICATE_DETECTION)
                    .streamReadConstraints(tools.jackson.core.StreamReadConstraints.builder()
                            .maxNestingDepth(64).maxNumberLength(100).maxNameLength(1000).build())
                    .build())
            .enable(tools.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

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
    public Mono<ResponseEntity<ObjectNode>> create(ServerWebExchange exchange) {
        Caller caller = Caller.of(exchange);
        List<String> keys = exchange.getRequest().getHeaders().getOrEmpty("Idempotency-Key");
        if (keys.size() > 1) return Mono.error(ValidationException.of("Idempotency-Key", "given more than once; send one key per request"));
        String idempotencyKey = keys.isEmpty() ? null : keys.getFirst();
        if (idempotencyKey != null && !IDEMPOTENCY_KEY.matcher(idempotencyKey).matches())
            return Mono.error(ValidationException.of("Idempotency-Key", "must be 1 to 255 visible ASCII characters"));
        return body(exchange)
                .map(body -> VideoCreateRequest.parse(body, queue.model().id()))
                .flatMap(req -> blocking(() -> {
                    checkLoras(req.request());
                    GenerateRequest.Resolved resolved = queue.resolve(req.request());
                    Job job = queue.submit(caller.owner(), resolved, req.priority(), req.canonicalJson(), req.metadataJson(),
                            req.webhookJson(), idempotencyKey, req.requestHash());
                    return ResponseEntity.status(HttpStatus.ACCEPTED)
                            .header(HttpHeaders.LOCATION, "/v1/videos/" + job.id())
                            .body(view(job));
                }));
    }

    /** Every requested LoRA is in the catalog (named without revealing where the catalog lives). */
    private void checkLoras(GenerateRequest request) {
        if (request.loras() == null) return;
        List<FieldError> errors = new java.util.ArrayList<>();
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
        } catch (org.springframework.http.InvalidMediaTypeException e) {
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
        if (type.equalsTypeAndSubtype(MediaType.APPLICATION_FORM_URLENCODED))
            return exchange.getFormData().onErrorMap(e -> !(e instanceof ApiException), VideoController::unreadable)
                    .map(form -> (JsonNode) VideoCreateRequest.fromForm(form));
        if (!(type.getType().equals("application") && (type.getSubtype().equals("json") || type.getSubtype().endsWith("+json"))))
            return Mono.error(unsupported("Content-Type " + FieldError.clip(type.toString(), 100) + " is not accepted"));
        return jsonBody(exchange, MAX_BODY_BYTES);
    }

    /** The request body as strict JSON, at most maxBytes (413 beyond); an empty body is a 400. */
    static Mono<JsonNode> jsonBody(ServerWebExchange exchange, int maxBytes) {
        return org.springframework.core.io.buffer.DataBufferUtils.join(exchange.getRequest().getBody(), maxBytes)
                .map(buffer -> {
                    try {
                        byte[] bytes = new byte[buffer.readableByteCount()];
                        buffer.read(bytes);
                        return bytes;
                    } finally {
                        org.springframework.core.io.buffer.DataBufferUtils.release(buffer);
                    }
                })
                .onErrorMap(org.springframework.core.io.buffer.DataBufferLimitException.class, e -> BodyLimitFilter.tooLarge(maxBytes))
                .defaultIfEmpty(new byte[0])
                .map(VideoController::parseJson);
    }

    /** Jackson's reason without its pointers into Jackson's own configuration and source. */
    private static String jacksonReason(tools.jackson.core.JacksonException e) {
        String m = e.getOriginalMessage() == null ? "malformed" : e.getOriginalMessage();
        m = m.replaceAll("(?s)\\s*\\(?(start marker )?at \\[Source.*", "").replaceAll(", from `[^`]*`", "").replaceAll("\\s*\\(from `[^`]*`\\)", "");
        return FieldError.clip(ProblemWriter.clean(m), 160);
    }

    /** A form or multipart body the codecs could not take apart: the client's fault, unless it was too large. */
    private static Throwable unreadable(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause())
            if (t instanceof org.springframework.core.io.buffer.DataBufferLimitException l)
                return new ApiException(HttpStatus.PAYLOAD_TOO_LARGE, "payload-too-large",
                        "the form is larger than this server accepts: " + ProblemWriter.clean(l.getMessage()));
        if (e instanceof reactor.netty.channel.AbortedException) return e;
        String why = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        if (why.equals("No name available")) why = "a part has no name in its Content-Disposition";
        return ValidationException.of("body", "is not a readable form: " + ProblemWriter.clean(why));
    }

    /** Strict JSON: UTF-8 without a byte order mark, no duplicate keys, bounded nesting and numbers. */
    static JsonNode parseJson(byte[] bytes) {
        if (bytes.length == 0) throw ValidationException.of("body", "is empty; send a JSON object with a prompt");
        if (bytes.length >= 3 && (bytes[0] & 0xff) == 0xEF && (bytes[1] & 0xff) == 0xBB && (bytes[2] & 0xff) == 0xBF)
            throw ValidationException.of("body", "starts with a byte order mark; send UTF-8 JSON without one");
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(java.nio.charset.CodingErrorAction.REPORT)
                    .onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPORT)
                    .decode(java.nio.ByteBuffer.wrap(bytes)).toString();
        } catch (java.nio.charset.CharacterCodingException e) {
            throw ValidationException.of("body", "is not valid UTF-8");
        }
        try {
            return STRICT_JSON.readTree(text);
        } catch (tools.jackson.core.exc.StreamConstraintsException e) {
            throw ValidationException.of("body", "is not acceptable JSON: " + jacksonReason(e));
        } catch (tools.jackson.core.JacksonException e) {
            var at = e.getLocation();
            String where = at == null || at.getLineNr() < 1 ? "" : " at line " + at.getLineNr() + ", column " + at.getColumnNr();
            throw ValidationException.of("body", "is not valid JSON" + where + ": " + jacksonReason(e));
        }
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
        return blocking(() -> view(queue.get(caller.owner(), checkId(id), JobKind.VIDEO)));
    }

    /** A query parameter given at most once (absent: null; {@code ?name} without a value: ""). */
    static String single(ServerWebExchange exchange, String name) {
        List<String> values = exchange.getRequest().getQueryParams().get(name);
        if (values == null || values.isEmpty()) return null;
        if (values.size() > 1) throw ValidationException.of(name, "given more than once");
        return values.getFirst() == null ? "" : values.getFirst();
    }

    @GetMapping
    public Mono<ObjectNode> list(ServerWebExchange exchange) {
        Caller caller = Caller.of(exchange);
        String limit = single(exchange, "limit"), status = single(exchange, "status"), after = single(exchange, "after");
        int n = 20;
        if (limit != null) {
            n = limit.matches("[0-9]{1,3}") ? Integer.parseInt(limit) : -1;
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
        String order = single(exchange, "order");
        if (order != null && !order.equals("asc") && !order.equals("desc"))
            return Mono.error(ValidationException.of("order", "must be asc or desc"));
        boolean ascending = "asc".equals(order);
        if (after != null && (after.isEmpty() || after.length() > 256 || !after.matches("[A-Za-z0-9_=-]+")))
            return Mono.error(ValidationException.of("after", "is neither the id of one of your videos nor a cursor this server gave"));
        JobStatus f = filter;
        int limitN = n;
        return blocking(() -> {
            JobPage page;
            try {
                page = queue.list(caller.owner(), f, after, limitN, ascending);
            } catch (IllegalArgumentException | java.time.DateTimeException | ArithmeticException e) {
                // neither one of the caller's video ids nor a cursor this server gave (or one decoding out of range)
                throw ValidationException.of("after", "is neither the id of one of your videos nor a cursor this server gave");
            }
            return listPage(page, this::view);
        });
    }

    /** A page of jobs as a list object: {@code data}, {@code first_id}, {@code last_id}, {@code has_more}, {@code next_cursor}. */
    static ObjectNode listPage(JobPage page, java.util.function.Function<Job, ObjectNode> view) {
        ObjectNode out = JSON.createObjectNode().put("object", "list");
        var data = out.putArray("data");
        page.jobs().forEach(j -> data.add(view.apply(j)));
        if (page.jobs().isEmpty()) { out.putNull("first_id"); out.putNull("last_id"); }
        else { out.put("first_id", page.jobs().getFirst().id()); out.put("last_id", page.jobs().getLast().id()); }
        out.put("has_more", page.nextCursor() != null);
        if (page.nextCursor() != null) out.put("next_cursor", page.nextCursor()); else out.putNull("next_cursor");
        return out;
    }

    @PostMapping("/{id}/cancel")
    public Mono<ObjectNode> cancel(ServerWebExchange exchange, @PathVariable String id) {
        Caller caller = Caller.of(exchange);
        return blocking(() -> {
            queue.get(caller.owner(), checkId(id), JobKind.VIDEO);
            return view(queue.cancel(caller.owner(), id));
        });
    }

    @DeleteMapping("/{id}")
    public Mono<ObjectNode> delete(ServerWebExchange exchange, @PathVariable String id) {
        Caller caller = Caller.of(exchange);
        return blocking(() -> {
            queue.get(caller.owner(), checkId(id), JobKind.VIDEO);
            queue.delete(caller.owner(), id);
            return JSON.createObjectNode().put("id", id).put("object", "video.deleted").put("deleted", true);
        });
    }

    @GetMapping("/{id}/content")
    public Mono<ResponseEntity<Resource>> content(ServerWebExchange exchange, @PathVariable String id) {
        Caller caller = Caller.of(exchange);
        String variant = single(exchange, "variant");
        if (variant == null) variant = "video";
        String file;
        MediaType type;
        switch (variant) {
            case "video" -> { file = "video.mp4"; type = MediaType.parseMediaType("video/mp4"); }
            case "thumbnail" -> { file = "thumbnail.jpg"; type = MediaType.IMAGE_JPEG; }
            default -> { return Mono.error(ValidationException.of("variant", "must be video or thumbnail")); }
        }
        String v = variant;
        return blocking(() -> {
            Job job = queue.get(caller.owner(), checkId(id), JobKind.VIDEO);
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
                    .cacheControl(CacheControl.maxAge(java.time.Duration.ofHours(1)).cachePrivate())
                    .header(HttpHeaders.CONTENT_DISPOSITION, "inline; filename=\"" + id + (v.equals("video") ? ".mp4" : ".jpg") + "\"")
                    .body(resource);
        });
    }

    /** A Range header that cannot be served is a 416 problem (with Content-Range: bytes *&#47;length), not an empty answer. */
    private static void checkRange(ServerWebExchange exchange, Resource resource) throws java.io.IOException {
        String header = exchange.getRequest().getHeaders().getFirst(HttpHeaders.RANGE);
        if (header == null) return;
        long length = resource.contentLength();
        try {
            List<org.springframework.http.HttpRange> ranges = exchange.getRequest().getHeaders().getRange();
            if (!ranges.isEmpty()) org.springframework.http.HttpRange.toResourceRegions(ranges, resource);
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
        return sse(events, lastEventId, after, () -> queue.get(caller.owner(), checkId(id), JobKind.VIDEO));
    }

    /** The event log of the job {@code find} returns (blocking; 404 through it), after Last-Event-ID or ?after=. */
    static Flux<ServerSentEvent<String>> sse(JobEvents events, String lastEventId, String after, Callable<Job> find) {
        long from = lastEventId != null ? EventFrames.after(lastEventId, "Last-Event-ID") : EventFrames.after(after, "after");
        return blocking(find)
                .flatMapMany(job -> events.stream(job.id(), from))
                .map(e -> ServerSentEvent.builder(EventFrames.json(e)).id(Long.toString(e.seq())).event(e.type()).build());
    }

    static JsonNode eventData(JobEvent e) { return EventFrames.data(e); }

    static String resolvedOf(GenerateRequest.Resolved r, String model) { return RequestJson.write(r, model).toString(); }
}
