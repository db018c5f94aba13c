package dev.kaze.tensor;

import dev.kaze.json.Json;
import org.bytedeco.pytorch.Tensor;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A checkpoint in safetensors form: one file, or the shards named by a
 * {@code *.safetensors.index.json}. Keys lose a leading {@code model.diffusion_model.} or
 * {@code diffusion_model.} when every key carries it (ComfyUI repacks).
 */
public final class Checkpoint implements TensorSource {
    static final List<String> STRIPPED_PREFIXES = List.of("model.diffusion_model.", "diffusion_model.");

    private final String description;
    private final List<SafetensorsFile> files;
    private final Map<String, SafetensorsFile> fileOf = new LinkedHashMap<>();
    private final Map<String, String> storedName = new LinkedHashMap<>();

    private Checkpoint(String description, List<SafetensorsFile> files) {
        this.description = description;
        this.files = files;
        Map<String, SafetensorsFile> raw = new LinkedHashMap<>();
        for (SafetensorsFile f : files)
            for (String k : f.entries().keySet()) {
                SafetensorsFile prev = raw.putIfAbsent(k, f);
                if (prev != null)
                    throw new WeightsException("tensor '" + k + "' is stored twice: in " + prev.path() + " and " + f.path());
            }
        String prefix = commonPrefix(raw.keySet());
        for (var e : raw.entrySet()) {
            String key = e.getKey().substring(prefix.length());
            fileOf.put(key, e.getValue());
            storedName.put(key, e.getKey());
        }
    }

    private static String commonPrefix(Set<String> keys) {
        for (String p : STRIPPED_PREFIXES) {
            if (!keys.isEmpty() && keys.stream().allMatch(k -> k.startsWith(p))) return p;
        }
        return "";
    }

    /** Opens a .safetensors file, a .safetensors.index.json, or a directory holding exactly one of either. */
    public static Checkpoint open(Path path) {
        if (Files.isDirectory(path)) path = soleCheckpointIn(path);
        String name = path.getFileName().toString();
        if (name.endsWith(".index.json")) return openIndex(path);
        SafetensorsFile f = SafetensorsFile.open(path);
        return new Checkpoint(path.toString(), List.of(f));
    }

    private static Path soleCheckpointIn(Path dir) {
        try (var s = Files.list(dir)) {
            List<Path> idx = new ArrayList<>(), single = new ArrayList<>();
            for (Path p : s.sorted().toList()) {
                String n = p.getFileName().toString();
                if (n.endsWith(".safetensors.index.json")) idx.add(p);
                else if (n.endsWith(".safetensors")) single.add(p);
            }
            if (idx.size() == 1) return idx.getFirst();
            if (idx.isEmpty() && single.size() == 1) return single.getFirst();
            throw new WeightsException("directory " + dir + " must hold one *.safetensors.index.json or one *.safetensors file; found "
                    + idx.size() + " index files and " + single.size() + " safetensors files");
        } catch (IOException e) {
            throw new WeightsException("cannot list checkpoint directory " + dir + ": " + e.getMessage(), e);
        }
    }

    private static Checkpoint openIndex(Path index) {
        JsonNode root;
        try {
            root = Json.MAPPER.readTree(Files.readString(index));
        } catch (IOException | JacksonException e) {
            String why = e instanceof JacksonException je ? je.getOriginalMessage() : e.toString();
            throw new WeightsException("cannot read checkpoint index " + index + ": " + why
                    + " (it must be the JSON *.safetensors.index.json that came with the shards)", e);
        }
        JsonNode map = root == null ? null : root.get("weight_map");
        if (map == null || !map.isObject())
            throw new WeightsException("checkpoint index " + index + " has no weight_map object");
        if (map.isEmpty())
            throw new WeightsException("checkpoint index " + index + " has an empty weight_map (no tensors)");
        Map<String, String> firstKeyOf = new LinkedHashMap<>();
        for (var e : map.properties()) {
            JsonNode v = e.getValue();
            String shard = v.isString() ? v.asString() : null;
            if (shard == null || shard.contains("/") || shard.contains("\\") || shard.equals("..") || shard.equals(".")
                    || shard.isBlank())
                throw new WeightsException("checkpoint index " + index + " maps '" + e.getKey() + "' to " + v
                        + ", which is not a file name beside the index");
            firstKeyOf.putIfAbsent(shard, e.getKey());
        }
        Set<String> shardNames = new LinkedHashSet<>(firstKeyOf.keySet());
        List<SafetensorsFile> files = new ArrayList<>();
        try {
            for (String shard : shardNames) {
                Path p = index.resolveSibling(shard);
                if (!Files.isRegularFile(p))
                    throw new WeightsException("checkpoint index " + index + " names shard " + shard + " (holding '"
                            + firstKeyOf.get(shard) + "'), which is missing at " + p + "; download every shard the index lists");
                files.add(SafetensorsFile.open(p));
            }
            Checkpoint c = new Checkpoint(index.toString(), files);
            for (var e : map.properties()) {
                SafetensorsFile f = null;
                for (SafetensorsFile sf : files) if (sf.entries().containsKey(e.getKey())) f = sf;
                if (f == null || !f.path().getFileName().toString().equals(e.getValue().asString()))
                    throw new WeightsException("checkpoint index " + index + " places '" + e.getKey() + "' in "
                            + e.getValue().asString() + ", but that shard does not hold it");
            }
            return c;
        } catch (RuntimeException e) {
            files.forEach(SafetensorsFile::close);
            throw e;
        }
    }

    public static Checkpoint of(SafetensorsFile file) { return new Checkpoint(file.path().toString(), List.of(file)); }

    /** The __metadata__ of the first file (LoRA and config metadata live there). */
    public Map<String, String> metadata() { return files.isEmpty() ? Map.of() : files.getFirst().metadata(); }

    @Override public Set<String> keys() { return Collections.unmodifiableSet(fileOf.keySet()); }

    @Override public TensorSpec spec(String key) {
        SafetensorsFile f = fileOf.get(key);
        return f == null ? null : f.entry(storedName.get(key)).spec();
    }

    @Override public Tensor load(String key) {
        SafetensorsFile f = fileOf.get(key);
        if (f == null) throw new WeightsException(describe() + " has no tensor '" + key + "'");
        return f.tensor(storedName.get(key));
    }

    @Override public String origin(String key) {
        SafetensorsFile f = fileOf.get(key);
        return f == null ? description : f.path().toString();
    }

    @Override public String describe() { return description; }

    @Override public void close() { files.forEach(SafetensorsFile::close); }
}
