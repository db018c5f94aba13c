package dev.kaze.tensor;

import dev.kaze.json.Json;
import tools.jackson.databind.JsonNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** The published checkpoints' keys and shapes, from shared/fixtures/checkpoint-manifests.json (-Dkaze.manifests). */
public final class CheckpointManifests {
    private CheckpointManifests() {}

    /** One model's entry: dtype_published/file, config, keys, parameter_count. */
    public static JsonNode entry(String name) {
        Path file = Path.of(System.getProperty("kaze.manifests", "../shared/fixtures/checkpoint-manifests.json"));
        try {
            JsonNode e = Json.MAPPER.readTree(Files.readString(file)).get(name);
            if (e == null) throw new IllegalStateException(file + " has no entry '" + name + "'");
            return e;
        } catch (IOException ex) {
            throw new UncheckedIOException("cannot read checkpoint manifests " + file, ex);
        }
    }

    /** The entry's keys with their shapes, all of the given dtype. */
    public static Map<String, TensorSpec> specs(JsonNode entry, DType dtype) {
        Map<String, TensorSpec> specs = new LinkedHashMap<>();
        for (var e : entry.get("keys").properties()) {
            long[] shape = new long[e.getValue().size()];
            for (int i = 0; i < shape.length; i++) shape[i] = e.getValue().get(i).asLong();
            specs.put(e.getKey(), new TensorSpec(dtype, shape));
        }
        return specs;
    }
}
