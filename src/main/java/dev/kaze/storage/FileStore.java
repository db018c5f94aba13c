package dev.kaze.storage;

import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * Where Kaze keeps its files (videos, thumbnails, previews, LoRAs, training runs, uploaded datasets), by key:
 * {@code /}-separated relative names such as {@code jobs/<id>/video.mp4}. A local directory by default
 * ({@link DiskStore}); an S3-compatible bucket when {@code kaze.storage.s3.bucket} is set ({@link S3Store}), so API
 * and worker replicas on different machines see the same files.
 *
 * <p>A write is atomic: a reader sees the whole new file or the old one, never a part. Failures to reach the store
 * are {@link UncheckedIOException}s naming the key; a key that is not there is an empty {@link Optional} from
 * {@link #stat} and a {@link StoredFileNotFoundException} from the readers.
 */
public sealed interface FileStore permits DiskStore, S3Store {

    /** Stores the file's bytes under key, replacing what was there. */
    void put(String key, Path file);

    /** Stores bytes under key, replacing what was there. */
    void put(String key, byte[] bytes);

    /**
     * Stores the file under key unless the key is taken: true when stored, false (nothing written) when a file was
     * already there.
     */
    boolean putIfAbsent(String key, Path file);

    /** The file under key, or empty. */
    Optional<StoredFile> stat(String key);

    /** Reads the whole file. */
    InputStream open(String key);

    /** Reads length bytes from offset (both within the file). */
    InputStream open(String key, long offset, long length);

    /** Copies the file to target (replacing it; the copy appears whole or not at all). */
    void download(String key, Path target);

    /** Every file whose key starts with prefix, sorted by key. */
    List<StoredFile> list(String prefix);

    /** Removes the file; nothing happens when it is not there. */
    void delete(String key);

    /** Removes every file whose key starts with prefix (a "directory": end it with {@code /}). */
    void deleteAll(String prefix);

    /** The same store seen from below prefix: its keys are prefix + "/" + key here. */
    FileStore within(String prefix);

    /** The file itself when this store is a local directory (no copy needed), else empty. */
    Optional<Path> localFile(String key);

    /** Where the files are, for logs and messages ({@code /data/kaze}, {@code s3://bucket/prefix at http://...}). */
    String describe();

    /**
     * Checks a key: relative, {@code /}-separated, no empty, {@code .} or {@code ..} segment, no backslash or control
     * character. Returns it.
     */
    static String checkKey(String key) {
        if (key == null || key.isEmpty()) throw new IllegalArgumentException("a storage key must not be empty");
        if (key.startsWith("/") || key.endsWith("/")) throw new IllegalArgumentException("storage key '" + key + "' must not start or end with /");
        for (String segment : key.split("/", -1)) {
            if (segment.isEmpty() || segment.equals(".") || segment.equals(".."))
                throw new IllegalArgumentException("storage key '" + key + "' has an empty, . or .. segment");
        }
        for (int i = 0; i < key.length(); i++) {
            char c = key.charAt(i);
            if (c < 0x20 || c == 0x7f || c == '\\') throw new IllegalArgumentException("storage key '" + key.replaceAll("\\p{Cntrl}", "?") + "' has a control character or a backslash");
        }
        return key;
    }

    /** A prefix for {@link #list} or {@link #deleteAll}: empty, or a checked key optionally ending in {@code /}. */
    static String checkPrefix(String prefix) {
        if (prefix == null || prefix.isEmpty()) return "";
        checkKey(prefix.endsWith("/") ? prefix.substring(0, prefix.length() - 1) : prefix);
        return prefix;
    }
}
