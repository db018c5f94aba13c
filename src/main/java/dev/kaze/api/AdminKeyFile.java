package dev.kaze.api;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Base64;

/**
 * The admin key a server without configured keys (and without anonymous access) creates at its
 * first start, kept in one file readable by its owner only ({@code <data dir>/admin-key}, mode 600)
 * so that later starts use the same key.
 *
 * @param created true when this start wrote the file (the only time the key should be shown)
 */
public record AdminKeyFile(Path file, String key, boolean created) {
    public static final String ID = "admin";
    private static final SecureRandom RANDOM = new SecureRandom();

    /** The key in file, or a new one written there (atomically, mode 600) when there is none. */
    public static AdminKeyFile loadOrCreate(Path file) {
        Path f = file.toAbsolutePath().normalize();
        try {
            if (Files.exists(f)) return new AdminKeyFile(f, read(f), false);
            Files.createDirectories(f.getParent());
            byte[] bytes = new byte[32];
            RANDOM.nextBytes(bytes);
            String key = "kz-" + Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
            Path tmp = f.resolveSibling(f.getFileName() + ".tmp");
            Files.deleteIfExists(tmp);
            if (FileSystems.getDefault().supportedFileAttributeViews().contains("posix"))
                Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            else Files.createFile(tmp);
            Files.writeString(tmp, key + "\n");
            try {
                Files.createLink(f, tmp);   // never replaces a key another process wrote meanwhile
                Files.delete(tmp);
            } catch (FileAlreadyExistsException e) {
                Files.delete(tmp);
                return new AdminKeyFile(f, read(f), false);
            } catch (UnsupportedOperationException e) {
                try {
                    Files.move(tmp, f, StandardCopyOption.ATOMIC_MOVE);
                } catch (AtomicMoveNotSupportedException m) {
                    Files.move(tmp, f);
                }
            }
            return new AdminKeyFile(f, key, true);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot keep the admin API key in " + f + ": " + e.getMessage()
                    + "; make the data directory (kaze.data-dir) writable, or configure keys (kaze.auth.keys)", e);
        }
    }

    private static String read(Path f) throws IOException {
        String key = Files.readString(f).strip();
        if (key.isEmpty())
            throw new IllegalStateException("the admin key file " + f + " is empty; delete it and restart to create a new key");
        return key;
    }

    /** The key as the server keeps it: its hash, allowed to administer. */
    public ApiKeys.Key apiKey() { return new ApiKeys.Key(ID, ApiKeys.sha256(key), true); }

    /** Where a caller without a key is sent. */
    public String hint() { return "the admin key is in " + file + " on the server: send it as 'Authorization: Bearer <key>'"; }
}
