package dev.kaze.pipeline;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/** LoRA files by name: {@code <name>.safetensors} in one directory; names never reach outside it. */
public final class LoraCatalog {
    private final Path dir;   // null: no LoRAs

    public LoraCatalog(Path dir) { this.dir = dir == null ? null : dir.toAbsolutePath().normalize(); }

    public Path directory() { return dir; }

    /** The file of a LoRA, or an error naming what was looked for. */
    public Path resolve(String name) {
        new GenerateRequest.LoraRef(name, 1.0);   // validates the name
        if (dir == null) throw new IllegalArgumentException("loras: no LoRA named '" + name + "': this model has no LoRA directory");
        Path file = dir.resolve(name + ".safetensors").normalize();
        if (!file.startsWith(dir)) throw new IllegalArgumentException("loras: name '" + name + "' points outside the LoRA directory");
        if (!Files.isRegularFile(file))
            throw new IllegalArgumentException("loras: no LoRA named '" + name + "' (looked for " + file + ")");
        return file;
    }

    public boolean has(String name) {
        try {
            resolve(name);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    /** Names of every LoRA in the directory, sorted. */
    public List<String> names() {
        if (dir == null || !Files.isDirectory(dir)) return List.of();
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".safetensors"))
                    .map(n -> n.substring(0, n.length() - ".safetensors".length())).sorted().toList();
        } catch (IOException e) {
            throw new IllegalStateException("cannot list LoRA directory " + dir + ": " + e.getMessage(), e);
        }
    }
}
