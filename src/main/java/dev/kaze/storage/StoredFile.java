package dev.kaze.storage;

import java.time.Instant;
import java.util.Objects;

/**
 * One file in a {@link FileStore}.
 *
 * @param key          its key within the store ({@code jobs/<id>/video.mp4})
 * @param size         its length in bytes
 * @param lastModified when it was last written
 */
public record StoredFile(String key, long size, Instant lastModified) {
    public StoredFile {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(lastModified, "lastModified");
        if (size < 0) throw new IllegalArgumentException("size must be 0 or more, got " + size);
    }

    /** The last segment of the key. */
    public String name() { return key.substring(key.lastIndexOf('/') + 1); }
}
