package dev.kaze.api;

import dev.kaze.jobs.ModelInfo;
import dev.kaze.json.Json;
import dev.kaze.pipeline.GenerateRequest;
import dev.kaze.pipeline.LoraCatalog;
import dev.kaze.pipeline.lora.LoraFile;
import dev.kaze.storage.StoredFile;
import dev.kaze.storage.StoredFileNotFoundException;
import dev.kaze.tensor.TensorSource;
import dev.kaze.tensor.WeightsException;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Mono;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The LoRA catalog: list, upload, read and delete the served model's LoRAs (see {@link LoraCatalog}: the model's
 * LoRA directory, or with a bucket the bucket's {@code loras/} shared by every replica plus that directory read
 * only). The catalog is shared by every key (not per owner): any valid key may list, upload and delete. An upload
 * streams to a temporary file in the catalog's staging directory (never held in memory), must parse as safetensors
 * and map onto the served DiT's keys, and is then stored whole under its name, so a video request may name it at
 * once, on any worker.
 */
@RestController
@RequestMapping(LoraController.PATH)
public class LoraController {
    public static final String PATH = "/v1/loras";

    private final ModelInfo model;
    private final BodyLimitFilter.Upload uploadLimit;
    private final Object moves = new Object();
    /** SHA-256 of each LoRA by name, kept while its size and modification time stay the same. */
    private final Map<String, Hashed> hashes = new ConcurrentHashMap<>();

    private record Hashed(long size, Instant modified, String sha256) {}

    public LoraController(ModelInfo model, UploadLimits uploads) {
        this.model = model;
        this.uploadLimit = uploads.lora();
    }

    private LoraCatalog catalog() { return model.loras(); }

    private Path staging() {
        Path dir = catalog().staging();
        if (dir == null) throw new ApiException(HttpStatus.NOT_FOUND, "not-found", "this server has no LoRA directory");
        return dir;
    }

    /** A catalog name, as a video request's {@code loras[].name} must be; else 400. */
    private static String checkName(String field, String name) {
        if (!GenerateRequest.LoraRef.isCatalogName(name))
            throw ValidationException.of(field, "'" + FieldError.clip(String.valueOf(name), 80)
                    + "' is not a LoRA name: use letters, digits, '.', '_' and '-' (no paths, no '..')");
        return name;
    }

    @GetMapping
    public Mono<ObjectNode> list(ServerWebExchange exchange) {
        Caller.of(exchange);
        return Requests.blocking(() -> {
            ObjectNode body = Json.MAPPER.createObjectNode();
            body.put("object", "list");
            body.put("model", model.id());
            ArrayNode data = body.putArray("data");
            for (String name : catalog().names()) {
                ObjectNode item = describe(name);
                if (item != null) data.add(item);
            }
            return body;
        });
    }

    @GetMapping("/{name}")
    public Mono<ObjectNode> get(@PathVariable String name, ServerWebExchange exchange) {
        Caller.of(exchange);
        checkName("name", name);
        return Requests.blocking(() -> {
            ObjectNode item = describe(name);
            if (item == null) throw unknown(name);
            return item;
        });
    }

    @DeleteMapping("/{name}")
    public Mono<ObjectNode> delete(@PathVariable String name, ServerWebExchange exchange) {
        Caller.of(exchange);
        checkName("name", name);
        return Requests.blocking(() -> {
            if (model.defaultLoras().stream().anyMatch(l -> l.name().equals(name)))
                throw new ApiException(HttpStatus.CONFLICT, "lora-in-use", "'" + name + "' is one of the model's default LoRAs, "
                        + "applied to every video; remove it from the model directory's recipe instead");
            synchronized (moves) {
                try {
                    if (!catalog().delete(name)) throw unknown(name);
                } catch (IllegalStateException e) {
                    throw new ApiException(HttpStatus.CONFLICT, "lora-read-only", e.getMessage());
                }
            }
            hashes.remove(name);
            ObjectNode body = Json.MAPPER.createObjectNode();
            body.put("object", "lora.deleted");
            body.put("name", name);
            body.put("deleted", true);
            return body;
        });
    }

    @PostMapping
    public Mono<ResponseEntity<ObjectNode>> upload(@RequestParam(name = "replace", defaultValue = "false") String replaceParam,
                                                   ServerWebExchange exchange) {
        Caller.of(exchange);
        boolean replace = switch (replaceParam) {
            case "true", "1" -> true;
            case "false", "0" -> false;
            default -> throw ValidationException.of("replace", "must be true or false");
        };
        MediaType type = exchange.getRequest().getHeaders().getContentType();
        if (type == null || !MediaType.MULTIPART_FORM_DATA.isCompatibleWith(type))
            return Mono.error(new ApiException(HttpStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type",
                    "send multipart/form-data with a 'name' field and the LoRA as a 'file' part (.safetensors)"));
        return Requests.blocking(() -> {
            Path dir = staging();
            Files.createDirectories(dir);
            return Files.createTempFile(dir, ".upload-", ".tmp");
        }).flatMap(tmp -> MultipartForm.read(exchange, new MultipartForm.Rules(
                        List.of(new MultipartForm.FilePart("file", tmp, "send one file per upload")), null), uploadLimit)
                .flatMap(form -> Requests.blocking(() -> accept(tmp, form.fields().containsKey("name") ? form.fields().get("name").strip() : null,
                        form.fileNames().get("file"), replace)))
                .doFinally(signal -> {
                    try {
                        Files.deleteIfExists(tmp);
                    } catch (IOException ignored) {
                        // a temporary file left behind is not listed (no .safetensors suffix)
                    }
                }));
    }

    /** Validates the received file and stores it in the catalog (blocking); the temporary file is gone on return. */
    private ResponseEntity<ObjectNode> accept(Path tmp, String name, String filename, boolean replace) throws IOException {
        try {
            return store(tmp, name, filename, replace);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private ResponseEntity<ObjectNode> store(Path tmp, String name, String filename, boolean replace) throws IOException {
        if (name == null || name.isEmpty())
            throw ValidationException.of("name", "required: the catalog name the LoRA is to have (a form field before or after the file)");
        checkName("name", name);
        if (filename == null) throw ValidationException.of("file", "required: the LoRA as a .safetensors file part named 'file'");
        if (!replace && catalog().has(name)) throw exists(name);
        if (model.ditShapes() == null)
            throw new ApiException(HttpStatus.SERVICE_UNAVAILABLE, "unavailable", "this server cannot check LoRAs against its model");
        String shown = "'" + FieldError.clip(filename.isBlank() ? "upload" : filename, 100) + "'";
        int targets;
        List<String> formats;
        try (TensorSource base = model.ditShapes().get(); LoraFile lora = LoraFile.read(tmp, base)) {
            targets = lora.targets().size();
            formats = lora.formats().stream().map(Enum::name).toList();
        } catch (WeightsException e) {
            String why = String.valueOf(e.getMessage()).replace(tmp.toString(), shown);
            throw new ApiException(HttpStatus.BAD_REQUEST, "invalid-lora", "the uploaded file " + shown + " is not a LoRA for "
                    + model.id() + ": " + why);
        }
        String sha256 = sha256(tmp);
        synchronized (moves) {
            if (!catalog().add(tmp, name, replace)) throw exists(name);
            catalog().stat(name).ifPresent(f -> hashes.put(name, new Hashed(f.size(), f.lastModified(), sha256)));
        }
        ObjectNode item = describe(name);
        if (item == null) throw unknown(name);
        item.put("targets", targets);
        ArrayNode f = item.putArray("formats");
        formats.forEach(f::add);
        return ResponseEntity.status(HttpStatus.CREATED).header(HttpHeaders.LOCATION, PATH + "/" + name).body(item);
    }

    /** One catalog entry, or null when the LoRA went away meanwhile. */
    private ObjectNode describe(String name) {
        StoredFile file = catalog().stat(name).orElse(null);
        if (file == null) return null;
        long size = file.size();
        Instant modified = file.lastModified();
        Hashed h = hashes.get(name);
        if (h == null || h.size() != size || !h.modified().equals(modified)) {
            try (InputStream in = catalog().open(name)) {
                h = new Hashed(size, modified, sha256(in, name));
            } catch (StoredFileNotFoundException | IllegalArgumentException e) {
                return null;
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read LoRA '" + name + "': " + e.getMessage(), e);
            }
            hashes.put(name, h);
        }
        Set<String> defaults = new HashSet<>(model.defaultLoras().stream().map(GenerateRequest.LoraRef::name).toList());
        ObjectNode item = Json.MAPPER.createObjectNode();
        item.put("object", "lora");
        item.put("name", name);
        item.put("size_bytes", size);
        item.put("sha256", h.sha256());
        item.put("modified_at", modified.getEpochSecond());
        item.put("default", defaults.contains(name));
        return item;
    }

    private static String sha256(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            return sha256(in, file.getFileName().toString());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read LoRA " + file.getFileName() + ": " + e.getMessage(), e);
        }
    }

    private static String sha256(InputStream in, String what) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 20];
            for (int n; (n = in.read(buf)) > 0; ) md.update(buf, 0, n);
            return HexFormat.of().formatHex(md.digest());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read LoRA " + what + ": " + e.getMessage(), e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static ApiException unknown(String name) {
        return new ApiException(HttpStatus.NOT_FOUND, "not-found", "no LoRA named '" + name + "' on this server");
    }

    private static ApiException exists(String name) {
        return new ApiException(HttpStatus.CONFLICT, "lora-exists", "a LoRA named '" + name
                + "' already exists; add ?replace=true to replace it, or choose another name");
    }
}
