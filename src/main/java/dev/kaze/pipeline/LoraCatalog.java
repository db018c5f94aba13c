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

    /**
     * Copies a LoRA file into the catalog under {@code name}, atomically (a video request sees the
     * whole file or none). Returns false, copying nothing, when the name is taken and not {@code replace}.
     */
    public synchronized boolean add(Path file, String name, boolean replace) {
        new GenerateRequest.LoraRef(name, 1.0);   // validates the name
        if (dir == null) throw new IllegalStateException("this model has no LoRA directory to add '" + name + "' to");
        Path target = dir.resolve(name + ".safetensors").normalize();
        if (!target.getParent().equals(dir)) throw new IllegalArgumentException("LoRA name '" + name + "' points outside the LoRA directory");
        if (!replace && Files.exists(target)) return false;
        try {
            Files.createDirectories(dir);
            Path tmp = Files.createTempFile(dir, ".add-", ".tmp");
            try {
                Files.copy(file, tmp, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                if (replace) Files.move(tmp, target, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
                else {
                    Files.createLink(target, tmp);   // fails when the name was taken meanwhile
                    Files.delete(tmp);
                }
                return true;
            } catch (java.nio.file.FileAlreadyExistsException e) {
                return false;
            } finally {
                Files.deleteIfExists(tmp);
            }
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("cannot add LoRA '" + name + "' to " + dir + ": " + e.getMessage(), e);
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
