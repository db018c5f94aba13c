package dev.kaze.api;

import dev.kaze.config.KazeProperties;
import dev.kaze.jobs.Job;
import dev.kaze.jobs.JobEvents;
import dev.kaze.jobs.JobKind;
import dev.kaze.jobs.JobPage;
import dev.kaze.jobs.JobQueue;
import dev.kaze.jobs.JobStatus;
import dev.kaze.jobs.NewJob;
import dev.kaze.jobs.TrainingRunner;
import dev.kaze.jobs.webhooks.WebhookTarget;
import dev.kaze.pipeline.GenerateRequest;
import dev.kaze.training.DatasetArchive;
import dev.kaze.training.DatasetArchiveException;
import dev.kaze.training.DatasetCheckException;
import dev.kaze.training.DatasetPaths;
import dev.kaze.training.TrainingData;
import dev.kaze.training.DatasetConfig;
import dev.kaze.training.DatasetConfigException;
import dev.kaze.training.DatasetItems;
import dev.kaze.training.DatasetMediaException;
import dev.kaze.training.TrainingArgs;
import dev.kaze.training.TrainingArgsException;
import dev.kaze.training.TrainingSpec;
import org.springframework.core.ResolvableType;
import org.springframework.core.io.FileSystemResource;
import org.springframework.core.io.Resource;
import org.springframework.core.io.buffer.DataBufferLimitException;
import org.springframework.core.io.buffer.DataBufferUtils;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.http.codec.ServerSentEvent;
import org.springframework.http.codec.multipart.FilePartEvent;
import org.springframework.http.codec.multipart.FormPartEvent;
import org.springframework.http.codec.multipart.PartEvent;
import org.springframework.http.codec.multipart.PartEventHttpMessageReader;
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
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

/**
 * LoRA trainings: {@code POST /v1/trainings} takes a musubi-tuner dataset (an uploaded zip, or a
 * directory under the configured datasets root), its dataset config (TOML or the JSON equivalent)
 * and the training arguments under musubi's names; checks all of it before anything is queued; and
 * queues the run on the device worker with the videos. Reading, listing, cancelling, resuming,
 * deleting, the event log (SSE here, WebSocket through {@link JobEventsSocket}) and the run's files
 * (LoRAs, states, samples, the loss log and curve) follow the videos API.
 */
@RestController
@RequestMapping(TrainingController.PATH)
public class TrainingController {
    public static final String PATH = "/v1/trainings";
    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final Set<String> FIELDS = Set.of("dataset", "dataset_config", "args", "lora_name", "register_checkpoints",
            "priority", "webhook", "metadata");
    private static final Set<String> WEBHOOK_EVENTS = new LinkedHashSet<>(WebhookTarget.EVENT_TYPES);
    private static final int MAX_CONFIG_BYTES = 256 * 1024;

    private final JobQueue queue;
    private final JobEvents events;
    private final KazeProperties props;

    public TrainingController(JobQueue queue, JobEvents events, KazeProperties props) {
        this.queue = queue;
        this.events = events;
        this.props = props;
    }

    /** The size limit of a dataset upload. */
    public static BodyLimitFilter.Upload upload(KazeProperties props) {
        return new BodyLimitFilter.Upload(PATH, props.training().uploadMax().toBytes(), "a dataset archive", "kaze.training.upload-max");
    }

    private static <T> Mono<T> blocking(Callable<T> call) {
        return Mono.fromCallable(call).subscribeOn(Schedulers.boundedElastic());
    }

    // ---- create ----

    /** What a create request carried, before checking. */
    private record Submission(Path uploadedDir, String datasetName, JsonNode config, String configFileName, JsonNode args,
                              String loraName, JsonNode registerCheckpoints, JsonNode priority, JsonNode webhook, JsonNode metadata) {}

    @PostMapping
    public Mono<ResponseEntity<ObjectNode>> create(ServerWebExchange exchange) {
        Caller caller = Caller.of(exchange);
        MediaType type = exchange.getRequest().getHeaders().getContentType();
        if (type != null && MediaType.MULTIPART_FORM_DATA.isCompatibleWith(type)) return createFromUpload(exchange, caller);
        if (type == null || !(type.getSubtype().equals("json") || type.getSubtype().endsWith("+json")))
            return Mono.error(new ApiException(HttpStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type",
                    "send application/json naming a dataset directory, or multipart/form-data with the dataset as a zip 'dataset' part"));
        return VideoController.jsonBody(exchange, VideoController.MAX_BODY_BYTES)
                .flatMap(body -> blocking(() -> {
                    if (!body.isObject()) throw ValidationException.of("body", "must be a JSON object");
                    List<FieldError> errors = new ArrayList<>();
                    for (String k : body.propertyNames())
                        if (!FIELDS.contains(k)) errors.add(new FieldError(k, "unknown field; known: " + new java.util.TreeSet<>(FIELDS)));
                    JsonNode dataset = body.get("dataset");
                    if (dataset == null || !dataset.isString() || dataset.asString().isBlank())
                        errors.add(new FieldError("dataset", "required: a directory under the datasets root (upload a zip as multipart/form-data instead)"));
                    if (!errors.isEmpty()) throw new ValidationException(errors);
                    return submit(caller, new Submission(null, dataset.asString(), body.get("dataset_config"), null, body.get("args"),
                            text(body.get("lora_name")), body.get("register_checkpoints"), body.get("priority"), body.get("webhook"), body.get("metadata")));
                }));
    }

    private static String text(JsonNode n) { return n == null || n.isNull() ? null : n.isString() ? n.asString() : n.toString(); }

    /** multipart/form-data: the dataset zip streams to disk; the other parts are form fields (JSON for args, webhook, metadata). */
    private Mono<ResponseEntity<ObjectNode>> createFromUpload(ServerWebExchange exchange, Caller caller) {
        Flux<PartEvent> parts = new PartEventHttpMessageReader().read(ResolvableType.forClass(PartEvent.class), exchange.getRequest(), Map.of());
        Map<String, String> fields = new LinkedHashMap<>();
        List<String> files = new ArrayList<>();
        Path uploads = props.dataDir().resolve("uploads");
        String token = UUID.randomUUID().toString();
        Path zip = uploads.resolve(token + ".zip");
        Path configFile = uploads.resolve(token + ".config");
        Path dir = uploads.resolve(token);
        return blocking(() -> Files.createDirectories(uploads))
                .thenMany(parts.windowUntil(PartEvent::isLast).concatMap(part -> part.switchOnFirst((first, all) -> {
                    if (!first.hasValue()) return all.then();
                    PartEvent event = first.get();
                    String name = event.name();
                    if (event instanceof FilePartEvent file && (name.equals("dataset") || name.equals("dataset_config"))) {
                        if (files.contains(name))
                            return all.map(PartEvent::content).doOnNext(DataBufferUtils::release)
                                    .then(Mono.error(ValidationException.of(name, "send one " + name + " file")));
                        files.add(name);
                        if (name.equals("dataset_config")) fields.put("dataset_config_filename", file.filename());
                        return DataBufferUtils.write(all.map(PartEvent::content), name.equals("dataset") ? zip : configFile);
                    }
                    if (event instanceof FormPartEvent form) {
                        if (fields.put(name, form.value()) != null)
                            return all.map(PartEvent::content).doOnNext(DataBufferUtils::release)
                                    .then(Mono.error(ValidationException.of(name, "given more than once")));
                        return all.map(PartEvent::content).doOnNext(DataBufferUtils::release).then();
                    }
                    return all.map(PartEvent::content).doOnNext(DataBufferUtils::release)
                            .then(Mono.error(ValidationException.of(name, "file parts are accepted only as 'dataset' (a zip) and 'dataset_config'")));
                })).onErrorMap(DataBufferLimitException.class, e -> BodyLimitFilter.uploadTooLarge(upload(props))))
                .then(blocking(() -> {
                    if (!files.contains("dataset"))
                        throw ValidationException.of("dataset", "required: the dataset as a zip file part named 'dataset'");
                    List<FieldError> errors = new ArrayList<>();
                    for (String k : fields.keySet())
                        if (!FIELDS.contains(k) && !k.equals("dataset_config_filename"))
                            errors.add(new FieldError(k, "unknown field; known: " + new java.util.TreeSet<>(FIELDS)));
                    if (fields.containsKey("dataset")) errors.add(new FieldError("dataset", "must be a zip file part, not a text field"));
                    if (!errors.isEmpty()) throw new ValidationException(errors);
                    try {
                        DatasetArchive.extract(zip, dir, limits());
                    } catch (DatasetArchiveException e) {
                        // the archive's own names only, never the server's paths
                        String why = ProblemWriter.clean(String.valueOf(e.getMessage()).replace(zip.toString(), "the archive")
                                .replace(zip.toAbsolutePath().toString(), "the archive").replace(dir.toAbsolutePath().toString(), "")
                                .replace(dir.toString(), ""));
                        throw ValidationException.of("dataset", "cannot be unpacked: " + why);
                    }
                    JsonNode config = null;
                    String configName = null;
                    if (files.contains("dataset_config")) {
                        if (Files.size(configFile) > MAX_CONFIG_BYTES)
                            throw ValidationException.of("dataset_config", "is larger than " + MAX_CONFIG_BYTES + " bytes");
                        config = JSON.getNodeFactory().stringNode(Files.readString(configFile));
                        configName = fields.get("dataset_config_filename");
                    } else if (fields.containsKey("dataset_config")) config = JSON.getNodeFactory().stringNode(fields.get("dataset_config"));
                    return submit(caller, new Submission(dir, null, config, configName, jsonField(fields, "args"), fields.get("lora_name"),
                            jsonField(fields, "register_checkpoints"), jsonField(fields, "priority"), jsonField(fields, "webhook"),
                            jsonField(fields, "metadata")));
                }))
                .doOnError(e -> deleteQuietly(dir))
                .doFinally(signal -> {
                    deleteQuietly(zip);
                    deleteQuietly(configFile);
                });
    }

    private static JsonNode jsonField(Map<String, String> fields, String name) {
        String v = fields.get(name);
        if (v == null) return null;
        try {
            return VideoController.STRICT_JSON.readTree(v);
        } catch (tools.jackson.core.JacksonException e) {
            throw ValidationException.of(name, "is not valid JSON");
        }
    }

    private DatasetArchive.Limits limits() {
        KazeProperties.Training t = props.training();
        long bytes = t.archiveMaxBytes().toBytes();
        return new DatasetArchive.Limits(t.archiveMaxEntries(), bytes, bytes, t.archiveMaxRatio());
    }

    /** Checks everything (dataset, config, media, arguments, names) and queues the training (blocking). */
    private ResponseEntity<ObjectNode> submit(Caller caller, Submission s) throws IOException {
        List<FieldError> errors = new ArrayList<>();
        // where the dataset is
        Path root, datasetDir;
        if (s.uploadedDir() != null) {
            root = s.uploadedDir().toRealPath();
            datasetDir = root;
        } else {
            root = props.datasetsRoot().toAbsolutePath().normalize();
            if (!Files.isDirectory(root))
                throw ValidationException.of("dataset", "this server has no datasets root (" + root + "); set kaze.training.datasets-root, or upload the dataset as a zip");
            root = root.toRealPath();
            Path named = Path.of(s.datasetName());
            if (named.isAbsolute() || s.datasetName().contains("\\"))
                throw ValidationException.of("dataset", "must be a directory relative to the datasets root, not an absolute path");
            Path dir = root.resolve(named).normalize();
            if (!dir.startsWith(root) || !Files.isDirectory(dir) || !dir.toRealPath().startsWith(root))
                throw ValidationException.of("dataset", "'" + FieldError.clip(s.datasetName(), 100) + "' is not a directory under the datasets root");
            datasetDir = dir.toRealPath();
        }
        // the dataset config: as sent (TOML text or a JSON object), else dataset.toml / dataset.json in the dataset
        String configText, configName;
        JsonNode config = s.config();
        if (config == null || config.isNull()) {
            if (Files.isRegularFile(datasetDir.resolve("dataset.toml"))) configName = "dataset.toml";
            else if (Files.isRegularFile(datasetDir.resolve("dataset.json"))) configName = "dataset.json";
            else throw ValidationException.of("dataset_config", "required: send the musubi dataset config (TOML text or a JSON object), "
                        + "or put dataset.toml at the dataset's top level");
            configText = Files.readString(datasetDir.resolve(configName));
        } else if (config.isObject()) {
            configName = "dataset.json";
            configText = config.toString();
        } else if (config.isString()) {
            configText = config.asString();
            String given = s.configFileName() == null ? "" : s.configFileName().toLowerCase(java.util.Locale.ROOT);
            configName = given.endsWith(".json") || configText.stripLeading().startsWith("{") ? "dataset.json" : "dataset.toml";
        } else throw ValidationException.of("dataset_config", "must be the TOML text or a JSON object");
        if (configText.getBytes(StandardCharsets.UTF_8).length > MAX_CONFIG_BYTES)
            throw ValidationException.of("dataset_config", "is larger than " + MAX_CONFIG_BYTES + " bytes");
        // names and options
        String loraName = s.loraName();
        JsonNode args = s.args() == null ? JSON.createObjectNode() : s.args();
        if (!args.isObject()) errors.add(new FieldError("args", "must be a JSON object of musubi-tuner training arguments"));
        if (loraName == null) loraName = args.path("output_name").asString("lora");
        try {
            loraName = new GenerateRequest.LoraRef(loraName, 1.0).name();
            if (queue.model().loras().has(loraName))
                errors.add(new FieldError("lora_name", "a LoRA named '" + loraName + "' already exists; choose another name or delete it first"));
        } catch (IllegalArgumentException e) {
            errors.add(new FieldError("lora_name", "'" + FieldError.clip(loraName, 80) + "' is not a LoRA name: use letters, digits, '.', '_' and '-'"));
        }
        boolean registerCheckpoints = false;
        if (s.registerCheckpoints() != null && !s.registerCheckpoints().isNull()) {
            if (!s.registerCheckpoints().isBoolean()) errors.add(new FieldError("register_checkpoints", "must be true or false"));
            else registerCheckpoints = s.registerCheckpoints().asBoolean();
        }
        int priority = 0;
        if (s.priority() != null && !s.priority().isNull()) {
            if (!s.priority().isIntegralNumber() || s.priority().asInt() < -10 || s.priority().asInt() > 10)
                errors.add(new FieldError("priority", "must be an integer from -10 to 10"));
            else priority = s.priority().asInt();
        }
        String webhookJson = VideoCreateRequest.webhook(s.webhook(), WEBHOOK_EVENTS, errors);
        String metadataJson = VideoCreateRequest.metadata(s.metadata(), errors);
        if (!errors.isEmpty()) throw new ValidationException(errors);
        // the dataset itself: config, paths, media, captions; then the arguments against its size
        TrainingSpec spec = new TrainingSpec(datasetDir, root, s.uploadedDir() != null, configName, configText, args, loraName,
                registerCheckpoints, null);
        int samples = checkDataset(spec);
        try {
            TrainingArgs.fromJson(args).totalSteps(Math.max(1, samples));
        } catch (TrainingArgsException e) {
            throw new ValidationException(e.problems().stream().map(p -> new FieldError("args." + p.field(), p.message())).toList());
        }
        Job job = queue.enqueue(new NewJob(JobKind.TRAINING, caller.owner(), priority, JSON.createObjectNode()
                .put("dataset", s.uploadedDir() != null ? "upload" : s.datasetName()).put("lora_name", loraName).set("args", args).toString(),
                spec.toJson().toString(), metadataJson, webhookJson, null, null));
        return ResponseEntity.status(HttpStatus.ACCEPTED).header(HttpHeaders.LOCATION, PATH + "/" + job.id()).body(view(job));
    }

    /**
     * Validates the dataset for the spec (config, paths inside the root, every media file and caption);
     * returns the number of samples per epoch (items times num_repeats); 400 naming each key or file otherwise.
     */
    private static int checkDataset(TrainingSpec spec) {
        try {
            DatasetConfig config = spec.config();
            DatasetPaths.confine(config, spec.datasetRoot());
            TrainingData.Checked checked = TrainingData.check(config);
            int n = 0;
            for (DatasetItems d : checked.datasets()) n += d.items().size() * d.dataset().params().numRepeats();
            return n;
        } catch (DatasetConfigException e) {
            throw ValidationException.of(configField(e), relative(e.getMessage(), spec.datasetDir()));
        } catch (DatasetCheckException e) {
            throw new ValidationException(e.problems().stream().map(p -> new FieldError(
                    p.file() == null && p.key() != null ? "dataset_config." + p.pointer() : "dataset",
                    relative(p.describe(), spec.datasetDir()))).toList());
        } catch (DatasetMediaException e) {
            throw ValidationException.of("dataset", relative(e.getMessage(), spec.datasetDir()));
        }
    }

    private static String configField(DatasetConfigException e) {
        String f = "dataset_config";
        if (e.datasetIndex() != null) f += ".datasets[" + e.datasetIndex() + "]";
        if (e.key() != null) f += (e.datasetIndex() == null ? ".general." : ".") + e.key();
        return f;
    }

    /** Messages name files relative to the dataset, not by the server's paths. */
    private static String relative(String message, Path datasetDir) {
        return ProblemWriter.clean(String.valueOf(message).replace(datasetDir.toString() + "/", "").replace(datasetDir.toString(), "."));
    }

    // ---- read ----

    private ObjectNode view(Job job) {
        ObjectNode n = JSON.createObjectNode();
        n.put("id", job.id());
        n.put("object", "training");
        n.put("status", VideoObject.status(job.status()));
        n.put("progress", job.status() == JobStatus.COMPLETED ? 100 : Math.max(0, Math.min(100, job.progress())));
        n.put("stage", job.stage());
        n.put("step", job.step());
        n.put("total_steps", job.totalSteps());
        Integer position = job.status() == JobStatus.QUEUED ? queue.store().queuePosition(job.id()) : null;
        if (position != null) n.put("queue_position", position); else n.putNull("queue_position");
        n.put("priority", job.priority());
        n.put("created_at", job.createdAt().getEpochSecond());
        if (job.startedAt() != null) n.put("started_at", job.startedAt().getEpochSecond()); else n.putNull("started_at");
        if (job.completedAt() != null) n.put("completed_at", job.completedAt().getEpochSecond()); else n.putNull("completed_at");
        JsonNode request = JSON.readTree(job.requestJson());
        JsonNode resolved = job.resolvedJson() == null ? JSON.createObjectNode() : JSON.readTree(job.resolvedJson());
        n.put("dataset", request.path("dataset").asString(""));
        n.put("lora_name", resolved.path("lora_name").asString(""));
        n.set("args", resolved.path("args"));
        if (resolved.hasNonNull("resume_from")) n.put("resumed_from", resolved.get("resume_from").asString()); else n.putNull("resumed_from");
        if (resolved.has("result")) n.set("result", resolved.get("result")); else n.putNull("result");
        VideoObject.putError(n, job);
        if (job.metadataJson() != null) n.set("metadata", JSON.readTree(job.metadataJson())); else n.putNull("metadata");
        ObjectNode links = n.putObject("links");
        String self = PATH + "/" + job.id();
        links.put("self", self);
        links.put("events", self + "/events");
        links.put("files", self + "/files");
        links.put("cancel", self + "/cancel");
        links.put("resume", self + "/resume");
        String output = TrainingArgs.fromJson(resolved.path("args")).outputName();   // checked when the job was created
        links.put("log", self + "/files/" + output + ".log.jsonl");
        links.put("loss_curve", self + "/files/" + output + "-loss.png");
        if (job.status() == JobStatus.COMPLETED) links.put("lora", "/v1/loras/" + resolved.path("lora_name").asString(""));
        return n;
    }

    private Job find(Caller caller, String id) {
        return queue.get(caller.owner(), VideoController.checkId(id), JobKind.TRAINING);
    }

    @GetMapping("/{id}")
    public Mono<ObjectNode> get(ServerWebExchange exchange, @PathVariable String id) {
        Caller caller = Caller.of(exchange);
        return blocking(() -> view(find(caller, id)));
    }

    @GetMapping
    public Mono<ObjectNode> list(ServerWebExchange exchange) {
        Caller caller = Caller.of(exchange);
        String limit = VideoController.single(exchange, "limit"), after = VideoController.single(exchange, "after");
        int n = limit == null ? 20 : limit.matches("[0-9]{1,3}") ? Integer.parseInt(limit) : -1;
        if (n < 1 || n > 100) return Mono.error(ValidationException.of("limit", "must be an integer between 1 and 100"));
        if (after != null && (after.isEmpty() || after.length() > 256 || !after.matches("[A-Za-z0-9_=-]+")))
            return Mono.error(ValidationException.of("after", "is neither the id of one of your trainings nor a cursor this server gave"));
        return blocking(() -> {
            JobPage page;
            try {
                page = queue.list(caller.owner(), JobKind.TRAINING, null, after, n, false);
            } catch (IllegalArgumentException | java.time.DateTimeException | ArithmeticException e) {
                throw ValidationException.of("after", "is neither the id of one of your trainings nor a cursor this server gave");
            }
            return VideoController.listPage(page, this::view);
        });
    }

    @PostMapping("/{id}/cancel")
    public Mono<ObjectNode> cancel(ServerWebExchange exchange, @PathVariable String id) {
        Caller caller = Caller.of(exchange);
        return blocking(() -> {
            find(caller, id);
            return view(queue.cancel(caller.owner(), id));
        });
    }

    /** Continues a cancelled or failed training from its newest saved state, as a new training. */
    @PostMapping("/{id}/resume")
    public Mono<ResponseEntity<ObjectNode>> resume(ServerWebExchange exchange, @PathVariable String id) {
        Caller caller = Caller.of(exchange);
        return blocking(() -> {
            Job job = find(caller, id);
            if (job.status() != JobStatus.CANCELLED && job.status() != JobStatus.FAILED)
                throw new ApiException(HttpStatus.CONFLICT, "not-resumable", "training " + id + " is " + VideoObject.status(job.status())
                        + "; only a cancelled or failed training can be resumed");
            Path out = TrainingRunner.outputDir(queue.jobDir(id));
            boolean hasState;
            try (Stream<Path> s = Files.isDirectory(out) ? Files.list(out) : Stream.empty()) {
                hasState = s.anyMatch(p -> p.getFileName().toString().endsWith("-state"));
            }
            if (!hasState)
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
        return blocking(() -> {
            Job job = find(caller, id);
            TrainingSpec spec = TrainingSpec.fromJson(job.resolvedJson());
            queue.delete(caller.owner(), id);
            if (spec.uploaded()) deleteQuietly(spec.datasetDir());
            return JSON.createObjectNode().put("id", id).put("object", "training.deleted").put("deleted", true);
        });
    }

    @GetMapping(path = "/{id}/events", produces = MediaType.TEXT_EVENT_STREAM_VALUE)
    public Flux<ServerSentEvent<String>> sse(ServerWebExchange exchange, @PathVariable String id,
                                             @RequestHeader(name = "Last-Event-ID", required = false) String lastEventId,
                                             @RequestParam(required = false) String after) {
        Caller caller = Caller.of(exchange);
        return VideoController.sse(events, lastEventId, after, () -> find(caller, id));
    }

    // ---- files ----

    @GetMapping("/{id}/files")
    public Mono<ObjectNode> files(ServerWebExchange exchange, @PathVariable String id) {
        Caller caller = Caller.of(exchange);
        return blocking(() -> {
            find(caller, id);
            Path out = TrainingRunner.outputDir(queue.jobDir(id));
            ObjectNode body = JSON.createObjectNode().put("object", "list");
            ArrayNode data = body.putArray("data");
            if (Files.isDirectory(out)) try (Stream<Path> s = Files.walk(out)) {
                for (Path p : s.filter(Files::isRegularFile).sorted().toList()) {
                    String rel = out.relativize(p).toString().replace('\\', '/');
                    data.add(JSON.createObjectNode().put("name", rel).put("size_bytes", Files.size(p))
                            .put("modified_at", Files.getLastModifiedTime(p).toMillis() / 1000)
                            .put("url", PATH + "/" + id + "/files/" + rel));
                }
            }
            return body;
        });
    }

    @GetMapping("/{id}/files/**")
    public Mono<ResponseEntity<Resource>> file(ServerWebExchange exchange, @PathVariable String id) {
        Caller caller = Caller.of(exchange);
        String prefix = PATH + "/" + id + "/files/";
        String path = exchange.getRequest().getPath().pathWithinApplication().value();
        String rel = java.net.URLDecoder.decode(path.substring(Math.min(path.length(), prefix.length())), StandardCharsets.UTF_8);
        return blocking(() -> {
            find(caller, id);
            Path out = TrainingRunner.outputDir(queue.jobDir(id)).toAbsolutePath().normalize();
            Path file = out.resolve(rel).normalize();
            if (rel.isEmpty() || !file.startsWith(out) || !Files.isRegularFile(file))
                throw new ApiException(HttpStatus.NOT_FOUND, "not-found", "training " + id + " has no file '" + FieldError.clip(rel, 100) + "'");
            String name = file.getFileName().toString();
            MediaType type = name.endsWith(".png") ? MediaType.IMAGE_PNG : name.endsWith(".mp4") ? MediaType.parseMediaType("video/mp4")
                    : name.endsWith(".jsonl") ? MediaType.parseMediaType("application/jsonl") : name.endsWith(".json") ? MediaType.APPLICATION_JSON
                    : MediaType.APPLICATION_OCTET_STREAM;
            return ResponseEntity.ok().contentType(type)
                    .header(HttpHeaders.CONTENT_DISPOSITION, "attachment; filename=\"" + name.replace("\"", "") + "\"")
                    .<Resource>body(new FileSystemResource(file));
        });
    }

    /** Registers one of the run's saved LoRA files in the catalog: {@code {"file": "...safetensors", "name": "..."}}. */
    @PostMapping("/{id}/loras")
    public Mono<ResponseEntity<ObjectNode>> register(ServerWebExchange exchange, @PathVariable String id) {
        Caller caller = Caller.of(exchange);
        return VideoController.jsonBody(exchange, 64 * 1024)
                .flatMap(body -> blocking(() -> {
                    find(caller, id);
                    String file = text(body.get("file")), name = text(body.get("name"));
                    List<FieldError> errors = new ArrayList<>();
                    if (file == null || !file.endsWith(".safetensors") || file.contains("/") || file.contains("\\"))
                        errors.add(new FieldError("file", "required: the name of one of this training's .safetensors files (see its files)"));
                    if (name == null) errors.add(new FieldError("name", "required: the catalog name the LoRA is to have"));
                    else try {
                        new GenerateRequest.LoraRef(name, 1.0);
                    } catch (IllegalArgumentException e) {
                        errors.add(new FieldError("name", "is not a LoRA name: use letters, digits, '.', '_' and '-'"));
                    }
                    if (!errors.isEmpty()) throw new ValidationException(errors);
                    Path source = TrainingRunner.outputDir(queue.jobDir(id)).resolve(file);
                    if (!Files.isRegularFile(source))
                        throw new ApiException(HttpStatus.NOT_FOUND, "not-found", "training " + id + " has no file '" + FieldError.clip(file, 100) + "'");
                    if (!queue.model().loras().add(source, name, false))
                        throw new ApiException(HttpStatus.CONFLICT, "lora-exists", "a LoRA named '" + name + "' already exists; choose another name");
                    ObjectNode out = JSON.createObjectNode().put("object", "lora").put("name", name).put("source", file);
                    return ResponseEntity.status(HttpStatus.CREATED).header(HttpHeaders.LOCATION, LoraController.PATH + "/" + name).body(out);
                }));
    }

    /** Deletes a file or directory tree if it is there; a failure is logged, not thrown (clean-up after the answer). */
    private static void deleteQuietly(Path p) {
        try {
            JobQueue.deleteFiles(p);
        } catch (RuntimeException e) {
            org.slf4j.LoggerFactory.getLogger(TrainingController.class).warn("could not delete {}: {}", p, e.getMessage());
        }
    }
}
