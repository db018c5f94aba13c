package dev.kaze.pipeline;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
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
    public boolean add(Path file, String name, boolean replace) {
        Path tmp = null;
        try {
            tmp = Files.createTempFile(Files.createDirectories(directoryFor(name)), ".add-", ".tmp");
            Files.copy(file, tmp, StandardCopyOption.REPLACE_EXISTING);
            return install(tmp, name, replace);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot add LoRA '" + name + "' to " + dir + ": " + e.getMessage(), e);
        } finally {
            if (tmp != null) try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // a temporary file left behind is not listed (no .safetensors suffix)
            }
        }
    }

    /**
     * Renames a complete file already in the catalog directory (a temporary one) to {@code name}'s
     * file, atomically. Without {@code replace} a taken name is never overwritten, even by a rename
     * racing this one (the name is claimed with a hard link): returns false and leaves tmp in place.
     */
    public boolean install(Path tmp, String name, boolean replace) throws IOException {
        Path target = directoryFor(name).resolve(name + ".safetensors");
        if (replace) {
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            return true;
        }
        try {
            Files.createLink(target, tmp);
        } catch (FileAlreadyExistsException e) {
            return false;
        }
        Files.delete(tmp);
        return true;
    }

    /** The directory name's file goes in, after checking the name. */
    private Path directoryFor(String name) {
        new GenerateRequest.LoraRef(name, 1.0);   // validates the name
        if (dir == null) throw new IllegalStateException("this model has no LoRA directory to add '" + name + "' to");
        Path target = dir.resolve(name + ".safetensors").normalize();
        if (!target.getParent().equals(dir)) throw new IllegalArgumentException("LoRA name '" + name + "' points outside the LoRA directory");
        return dir;
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
