package dev.kaze.api;

import dev.kaze.jobs.Job;
import dev.kaze.jobs.JobEvents;
import dev.kaze.jobs.JobKind;
import dev.kaze.jobs.JobQueue;
import dev.kaze.jobs.JobStatus;
import dev.kaze.jobs.NewJob;
import dev.kaze.jobs.TrainingOutput;
import dev.kaze.json.Json;
import dev.kaze.pipeline.GenerateRequest;
import dev.kaze.storage.DiskStore;
import dev.kaze.storage.FileStore;
import dev.kaze.storage.StoredFile;
import dev.kaze.training.TrainingSpec;
import org.springframework.core.io.FileSystemResource;
import org.springframework.core.io.Resource;
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
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * LoRA trainings: {@code POST /v1/trainings} takes a musubi-tuner dataset (an uploaded zip, or a
 * directory under the configured datasets root), its dataset config (TOML or the JSON equivalent)
 * and the training arguments under musubi's names; checks all of it ({@link TrainingCreateRequest})
 * before anything is queued; and queues the run on the device worker with the videos. Reading,
 * listing, cancelling, resuming, deleting, the event log (SSE here, WebSocket through
 * {@link JobEventsSocket}) and the run's files (LoRAs, states, samples, the loss log and curve)
 * follow the videos API.
 */
@RestController
@RequestMapping(TrainingController.PATH)
public class TrainingController {
    public static final String PATH = "/v1/trainings";

    private final JobQueue queue;
    private final JobEvents events;
    private final TrainingDatasets datasets;
    private final BodyLimitFilter.Upload uploadLimit;

    public TrainingController(JobQueue queue, JobEvents events, TrainingDatasets datasets, UploadLimits uploads) {
        this.queue = queue;
        this.events = events;
        this.datasets = datasets;
        this.uploadLimit = uploads.dataset();
    }

    // ---- create ----

    @PostMapping
    public Mono<ResponseEntity<ObjectNode>> create(ServerWebExchange exchange) {
        Caller caller = Caller.of(exchange);
        MediaType type = exchange.getRequest().getHeaders().getContentType();
        if (type != null && MediaType.MULTIPART_FORM_DATA.isCompatibleWith(type)) return createFromUpload(exchange, caller);
        if (type == null || !JsonBodies.isJson(type))
            return Mono.error(new ApiException(HttpStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type",
                    "send application/json naming a dataset directory, or multipart/form-data with the dataset as a zip 'dataset' part"));
        return JsonBodies.read(exchange, VideoController.MAX_BODY_BYTES)
                .flatMap(body -> Requests.blocking(() -> submit(caller,
                        TrainingCreateRequest.fromJson(body, datasets.root(), queue.model().loras()))));
    }

    /**
     * multipart/form-data: the dataset zip streams to disk; the other parts are form fields (JSON for args, webhook,
     * metadata). With a bucket the checked dataset goes to the store ({@code datasets/<token>/}) for the worker, and
     * this server's unpacked copy is removed.
     */
    private Mono<ResponseEntity<ObjectNode>> createFromUpload(ServerWebExchange exchange, Caller caller) {
        TrainingUpload upload = TrainingUpload.under(datasets.uploads());
        return Requests.blocking(() -> Files.createDirectories(datasets.uploads()))
                .then(MultipartForm.read(exchange, upload.rules(), uploadLimit))
                .flatMap(form -> Requests.blocking(() -> {
                    TrainingCreateRequest request = TrainingCreateRequest.fromUpload(form, upload, datasets, queue.model().loras());
                    if (queue.files() instanceof DiskStore) return submit(caller, request);
                    String key = upload.store(queue.files());
                    try {
                        return submit(caller, request.storedAt(key));
                    } catch (RuntimeException e) {
                        queue.files().deleteAll(key + "/");
                        throw e;
                    }
                }))
                .doOnError(e -> TrainingUpload.deleteQuietly(upload.dir()))
                .doFinally(signal -> upload.deleteParts());
    }

    /** Queues a checked request (blocking). */
    private ResponseEntity<ObjectNode> submit(Caller caller, TrainingCreateRequest request) {
        Job job = queue.enqueue(new NewJob(JobKind.TRAINING, caller.owner(), request.priority(), request.requestJson(),
                request.spec().toJson().toString(), request.metadataJson(), request.webhookJson(), null, null));
        return ResponseEntity.status(HttpStatus.ACCEPTED).header(HttpHeaders.LOCATION, PATH + "/" + job.id()).body(view(job));
    }

    // ---- read ----

    private ObjectNode view(Job job) {
        return TrainingObject.of(job, job.status() == JobStatus.QUEUED ? queue.store().queuePosition(job.id()) : null)
                .set("usage", UsageView.of(queue.store().usage(job.id()).orElse(null)));
    }

    private Job find(Caller caller, String id) {
        return queue.get(caller.owner(), Requests.checkId(id), JobKind.TRAINING);
    }

    @GetMapping("/{id}")
    public Mono<ObjectNode> get(ServerWebExchange exchange, @PathVariable String id) {
        Caller caller = Caller.of(exchange);
        return Requests.blocking(() -> view(find(caller, id)));
    }

    @GetMapping
    public Mono<ObjectNode> list(ServerWebExchange exchange) {
        Caller caller = Caller.of(exchange);
        String limit = Requests.single(exchange, "limit"), after = Requests.single(exchange, "after");
        int n = Requests.limit(limit);
        Requests.after(after, "trainings");
        return Requests.blocking(() -> ListPages.of(ListPages.fetch(() -> queue.list(caller.owner(), JobKind.TRAINING, null, after, n, false),
                "trainings"), this::view));
    }

    @PostMapping("/{id}/cancel")
    public Mono<ObjectNode> cancel(ServerWebExchange exchange, @PathVariable String id) {
        Caller caller = Caller.of(exchange);
        return Requests.blocking(() -> {
            find(caller, id);
            return view(queue.cancel(caller.owner(), id));
        });
    }

    /** Continues a cancelled or failed training from its newest saved state, as a new training. */
    @PostMapping("/{id}/resume")
    public Mono<ResponseEntity<ObjectNode>> resume(ServerWebExchange exchange, @PathVariable String id) {
        Caller caller = Caller.of(exchange);
        return Requests.blocking(() -> {
            Job job = find(caller, id);
            if (job.status() != JobStatus.CANCELLED && job.status() != JobStatus.FAILED)
                throw new ApiException(HttpStatus.CONFLICT, "not-resumable", "training " + id + " is " + VideoObject.status(job.status())
                        + "; only a cancelled or failed training can be resumed");
            if (!TrainingOutput.hasStoredState(queue.files(), id))
                throw new ApiException(HttpStatus.CONFLICT, "not-resumable", "training " + id + " saved no state before it stopped; start a new training");
            TrainingSpec spec = TrainingSpec.fromJson(job.resolvedJson()).resuming(id);
            if (queue.model().loras().has(spec.loraName()))
                throw new ApiException(HttpStatus.CONFLICT, "lora-exists", "a LoRA named '" + spec.loraName() + "' exists now; delete it first");
            Job created = queue.enqueue(new NewJob(JobKind.TRAINING, caller.owner(), job.priority(), job.requestJson(),
                    spec.toJson().toString(), job.metadataJson(), job.webhookJson(), null, null));
            return ResponseEntity.status(HttpStatus.ACCEPTED).header(HttpHeaders.LOCATION, PATH + "/" + created.id()).body(view(created));
        });
    }

    @DeleteMapping("/{id}")
    public Mono<ObjectNode> delete(ServerWebExchange exchange, @PathVariable String id) {
        Caller caller = Caller.of(exchange);
        return Requests.blocking(() -> {
            Job job = find(caller, id);
            TrainingSpec spec = TrainingSpec.fromJson(job.resolvedJson());
            queue.delete(caller.owner(), id);
            if (spec.uploaded()) {   // the upload, with the folder it may have been zipped in
                TrainingUpload.deleteQuietly(spec.datasetRoot());
                if (spec.datasetKey() != null) queue.files().deleteAll(spec.datasetKey() + "/");
            }
            return Json.MAPPER.createObjectNode().put("id", id).put("object", "training.deleted").put("deleted", true);
        });
    }

    @GetMapping(path = "/{id}/events", produces = MediaType.TEXT_EVENT_STREAM_VALUE)
    public Flux<ServerSentEvent<String>> sse(ServerWebExchange exchange, @PathVariable String id,
                                             @RequestHeader(name = "Last-Event-ID", required = false) String lastEventId,
                                             @RequestParam(required = false) String after) {
        Caller caller = Caller.of(exchange);
        return EventFrames.sse(events, lastEventId, after, () -> find(caller, id));
    }

    // ---- files ----

    @GetMapping("/{id}/files")
    public Mono<ObjectNode> files(ServerWebExchange exchange, @PathVariable String id) {
        Caller caller = Caller.of(exchange);
        return Requests.blocking(() -> {
            find(caller, id);
            String prefix = TrainingOutput.prefix(id);
            ObjectNode body = Json.MAPPER.createObjectNode().put("object", "list");
            ArrayNode data = body.putArray("data");
            for (StoredFile f : queue.files().list(prefix)) {
                String rel = f.key().substring(prefix.length());
                data.add(Json.MAPPER.createObjectNode().put("name", rel).put("size_bytes", f.size())
                        .put("modified_at", f.lastModified().getEpochSecond())
                        .put("url", PATH + "/" + id + "/files/" + rel));
            }
            return body;
        });
    }

    @GetMapping("/{id}/files/**")
    public Mono<ResponseEntity<Resource>> file(ServerWebExchange exchange, @PathVariable String id) {
        Caller caller = Caller.of(exchange);
        String prefix = PATH + "/" + id + "/files/";
        String path = exchange.getRequest().getPath().pathWithinApplication().value();
        String rel = URLDecoder.decode(path.substring(Math.min(path.length(), prefix.length())), StandardCharsets.UTF_8);
        return Requests.blocking(() -> {
            find(caller, id);
            StoredFile file = runFile(id, rel);
            String name = file.name();
            MediaType type = name.endsWith(".png") ? MediaType.IMAGE_PNG : name.endsWith(".mp4") ? MediaType.parseMediaType("video/mp4")
                    : name.endsWith(".jsonl") ? MediaType.parseMediaType("application/jsonl") : name.endsWith(".json") ? MediaType.APPLICATION_JSON
                    : MediaType.APPLICATION_OCTET_STREAM;
            Resource body = queue.files().localFile(file.key()).<Resource>map(FileSystemResource::new)
                    .orElseGet(() -> new StoredFileResource(queue.files(), file));
            return ResponseEntity.ok().contentType(type)
                    .header(HttpHeaders.CONTENT_DISPOSITION, "attachment; filename=\"" + name.replace("\"", "") + "\"")
                    .body(body);
        });
    }

    /** The run's file at rel (a path within its output), or a 404 naming it. */
    private StoredFile runFile(String id, String rel) {
        String key = TrainingOutput.prefix(id) + rel;
        boolean valid;
        try {
            FileStore.checkKey(key);
            valid = !rel.isEmpty();
        } catch (IllegalArgumentException e) {
            valid = false;   // an empty, . or .. segment: never one of the run's files
        }
        return (valid ? queue.files().stat(key) : Optional.<StoredFile>empty()).orElseThrow(() ->
                new ApiException(HttpStatus.NOT_FOUND, "not-found", "training " + id + " has no file '" + FieldError.clip(rel, 100) + "'"));
    }

    /** Registers one of the run's saved LoRA files in the catalog: {@code {"file": "...safetensors", "name": "..."}}. */
    @PostMapping("/{id}/loras")
    public Mono<ResponseEntity<ObjectNode>> register(ServerWebExchange exchange, @PathVariable String id) {
        Caller caller = Caller.of(exchange);
        return JsonBodies.read(exchange, 64 * 1024)
                .flatMap(body -> Requests.blocking(() -> {
                    find(caller, id);
                    String file = JsonBodies.text(body.get("file")), name = JsonBodies.text(body.get("name"));
                    List<FieldError> errors = new ArrayList<>();
                    if (file == null || !file.endsWith(".safetensors") || file.contains("/") || file.contains("\\"))
                        errors.add(new FieldError("file", "required: the name of one of this training's .safetensors files (see its files)"));
                    if (name == null) errors.add(new FieldError("name", "required: the catalog name the LoRA is to have"));
                    else if (!GenerateRequest.LoraRef.isCatalogName(name))
                        errors.add(new FieldError("name", "is not a LoRA name: use letters, digits, '.', '_' and '-'"));
                    if (!errors.isEmpty()) throw new ValidationException(errors);
                    if (!addLora(runFile(id, file), name))
                        throw new ApiException(HttpStatus.CONFLICT, "lora-exists", "a LoRA named '" + name + "' already exists; choose another name");
                    ObjectNode out = Json.MAPPER.createObjectNode().put("object", "lora").put("name", name).put("source", file);
                    return ResponseEntity.status(HttpStatus.CREATED).header(HttpHeaders.LOCATION, LoraController.PATH + "/" + name).body(out);
                }));
    }

    /** Adds a run's stored file to the LoRA catalog (through a temporary copy when it is not on this disk). */
    private boolean addLora(StoredFile file, String name) throws IOException {
        Optional<Path> local = queue.files().localFile(file.key());
        if (local.isPresent()) return queue.model().loras().add(local.get(), name, false);
        Path tmp = Files.createTempFile("kaze-lora-", ".safetensors");
        try {
            queue.files().download(file.key(), tmp);
            return queue.model().loras().add(tmp, name, false);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
