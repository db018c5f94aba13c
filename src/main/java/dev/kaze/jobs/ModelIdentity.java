package dev.kaze.jobs;

import dev.kaze.json.Json;
import tools.jackson.databind.JsonNode;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;

/**
 * A cheap, stable identity of the served model, for the usage records (hashing a 28 GB DiT per start is too slow):
 * <ul>
 *   <li>{@code <model id>@sha256:<hex>} when the DiT file has a {@code .kaze/<name>.verified} record from a
 *       {@code kaze models pull} that still matches its size and modification time: the hub's SHA-256 of the file;</li>
 *   <li>else {@code <model id>@files:<16 hex>}: the first 64 bits of the SHA-256 of each file's name, size and
 *       modification time (the DiT, text encoder, VAE), which changes whenever a file is replaced.</li>
 * </ul>
 * The preview model has no files: its identity is its id.
 */
public final class ModelIdentity {
    private ModelIdentity() {}

    /** The identity of model {@code id} served from {@code files} (the DiT first; null entries are skipped). */
    public static String of(String id, List<Path> files) {
        List<Path> present = files.stream().filter(Objects::nonNull).toList();
        if (present.isEmpty()) return id;
        String verified = verifiedSha256(present.getFirst());
        if (verified != null) return id + "@sha256:" + verified;
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            for (Path f : present) {
                String line = f.getFileName() + ":" + Files.size(f) + ":" + Files.getLastModifiedTime(f).toMillis() + "\n";
                digest.update(line.getBytes(StandardCharsets.UTF_8));
            }
            return id + "@files:" + HexFormat.of().formatHex(digest.digest()).substring(0, 16);
        } catch (IOException | NoSuchAlgorithmException e) {
            return id;
        }
    }

    /** The SHA-256 a verified pull recorded for {@code file}, while it still describes the file; else null. */
    static String verifiedSha256(Path file) {
        Path mark = file.toAbsolutePath().getParent().resolve(".kaze").resolve(file.getFileName() + ".verified");
        try {
            if (!Files.isRegularFile(mark)) return null;
            JsonNode s = Json.MAPPER.readTree(Files.readString(mark));
            boolean current = s.path("size").asLong(-1) == Files.size(file)
                    && s.path("modifiedMillis").asLong(-1) == Files.getLastModifiedTime(file).toMillis();
            String hash = s.path("hash").asString("");
            return current && s.path("algorithm").asString("").equalsIgnoreCase("sha256") && hash.matches("[0-9a-f]{64}") ? hash : null;
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }
}
