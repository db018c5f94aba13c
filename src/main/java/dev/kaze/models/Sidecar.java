package dev.kaze.models;

import dev.kaze.json.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * The record that a file was verified: its size, modification time and hash, kept in
 * {@code .kaze/<name>.verified} beside it, so that a later pull or a status view trusts a
 * 28 GB file without hashing it again while size and time are unchanged.
 */
record Sidecar(long size, long modifiedMillis, String algorithm, String hash) {
    static final String WORK_DIR = ".kaze";

    static Path workDir(Path target) { return target.getParent().resolve(WORK_DIR); }

    static Path partOf(Path target) { return workDir(target).resolve(target.getFileName() + ".part"); }

    static Path lockOf(Path target) { return workDir(target).resolve(target.getFileName() + ".lock"); }

    static Path markOf(Path target) { return workDir(target).resolve(target.getFileName() + ".verified"); }

    /** The sidecar of target when it still describes the file on disk, else null. */
    static Sidecar read(Path target) {
        Path mark = markOf(target);
        try {
            if (!Files.isRegularFile(target) || !Files.isRegularFile(mark)) return null;
            Sidecar s = Json.MAPPER.readValue(Files.readString(mark), Sidecar.class);
            return s.size == Files.size(target) && s.modifiedMillis == Files.getLastModifiedTime(target).toMillis() ? s : null;
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** Whether target is present and was verified against checksum (any verified copy when checksum is null). */
    static boolean verifies(Path target, RemoteFile file) {
        Sidecar s = read(target);
        if (s == null) return false;
        if (file.exactSize() && s.size != file.size()) return false;
        Checksum c = file.checksum();
        return c == null || (c.algorithm().label().equals(s.algorithm) && c.hex().equals(s.hash));
    }

    static void write(Path target, String algorithm, String hash) throws IOException {
        Sidecar s = new Sidecar(Files.size(target), Files.getLastModifiedTime(target).toMillis(), algorithm, hash);
        Path mark = markOf(target);
        Path tmp = mark.resolveSibling(mark.getFileName() + ".tmp");
        Files.writeString(tmp, Json.MAPPER.writeValueAsString(s));
        Files.move(tmp, mark, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}
