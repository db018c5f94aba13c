package dev.kaze.pipeline;

import dev.kaze.storage.DiskStore;
import dev.kaze.storage.FileStore;
import dev.kaze.storage.StoredFile;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

/**
 * LoRA files by name: {@code <name>.safetensors}, in a {@link FileStore}; names never reach outside it.
 *
 * <p>Without a bucket ({@link #LoraCatalog(Path)}) the store is one local directory (the model's LoRA directory:
 * {@code kaze.models.loras}, {@code <model dir>/loras}, or {@code <data dir>/loras} for the preview model) and
 * {@link #resolve} returns the file in it, as it always did.
 *
 * <p>With a bucket ({@link #shared}) the catalog is the bucket's {@code loras/} area, read and written by every
 * replica, plus the model's own LoRA directory <em>read only</em>: the LoRAs {@code models pull} placed there (the
 * recipe's lightx2v and Ghibli LoRAs on the models volume every worker mounts) stay usable. On a name in both the
 * bucket wins: uploading with {@code replace} over a pulled LoRA replaces it for every worker, as it replaces the
 * file without a bucket, and deleting that upload brings the pulled one back. Without {@code replace} a name taken in
 * either place is refused. A LoRA only in the local directory cannot be deleted through the catalog (it belongs to
 * the model directory). {@link #resolve} gives a local copy of a bucket LoRA, downloaded once into the cache
 * directory (whole or not at all) and downloaded again when the object's size or last-modified time changes (the
 * copy's modification time is set to the object's).
 */
public final class LoraCatalog {
    private static final String SUFFIX = ".safetensors";

    private final FileStore store;   // null: no LoRAs
    private final Path dir;          // the model's LoRA directory on this machine; null: none
    private final Path cache;        // where copies of the store's files go; null when the store is the directory itself
    private final Map<String, Object> downloads = new ConcurrentHashMap<>();

    private LoraCatalog(FileStore store, Path dir, Path cache) {
        this.store = store;
        this.dir = dir == null ? null : dir.toAbsolutePath().normalize();
        this.cache = cache == null ? null : cache.toAbsolutePath().normalize();
    }

    /** The LoRAs of one local directory (null: no LoRAs). */
    public LoraCatalog(Path dir) {
        this(dir == null ? null : new DiskStore(dir), dir, null);
    }

    /**
     * The LoRAs in store (the bucket's LoRA area, keys {@code <name>.safetensors}) and, read only, those of the local
     * directory (null: none); copies of the store's files go to cache.
     */
    public static LoraCatalog shared(FileStore store, Path localDir, Path cache) {
        if (store == null || cache == null) throw new IllegalArgumentException("a shared LoRA catalog needs a store and a cache directory");
        return new LoraCatalog(store, localDir, cache);
    }

    /** The same catalog with dir as the model's LoRA directory (for a model directory scanned again). */
    public LoraCatalog withDirectory(Path dir) {
        return cache == null ? new LoraCatalog(dir) : new LoraCatalog(store, dir, cache);
    }

    /**
     * The model's LoRA directory on this machine (where {@code models pull} puts LoRAs); null when none. Without a
     * bucket it is the whole catalog; with one, its read-only part.
     */
    public Path directory() { return dir; }

    /** A local directory for a file on its way into the catalog (an upload); null when there is no catalog. */
    public Path staging() {
        if (store == null) return null;
        return cache != null ? cache : dir;
    }

    /** Where the LoRAs are, for messages. */
    public String describe() {
        if (store == null) return "no LoRA directory";
        if (cache == null) return dir.toString();
        return store.describe() + (dir != null ? " and " + dir : "");
    }

    /** A local file of a LoRA (a copy for one in a bucket), or an error naming what was looked for. */
    public Path resolve(String name) {
        String key = key(name);
        if (store == null) throw new IllegalArgumentException("loras: no LoRA named '" + name + "': this model has no LoRA directory");
        Optional<StoredFile> stored = store.stat(key);
        if (stored.isPresent()) {
            Optional<Path> here = store.localFile(key);
            if (here.isPresent()) return here.get();
            return copy(stored.get());
        }
        Path local = localFile(name);
        if (local != null) return local;
        throw new IllegalArgumentException("loras: no LoRA named '" + name + "' (looked for " + where(key) + ")");
    }

    /** Fails as {@link #resolve} does when the catalog has no such LoRA, without copying it. */
    public void check(String name) {
        String key = key(name);
        if (store == null) throw new IllegalArgumentException("loras: no LoRA named '" + name + "': this model has no LoRA directory");
        if (stat(name).isEmpty()) throw new IllegalArgumentException("loras: no LoRA named '" + name + "' (looked for " + where(key) + ")");
    }

    /** Whether the catalog has the LoRA (false for a name that is no catalog name). Downloads nothing. */
    public boolean has(String name) {
        try {
            return stat(name).isPresent();
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    /** The LoRA's size and modification time (the bucket's file before the local one), or empty. */
    public Optional<StoredFile> stat(String name) {
        String key = key(name);
        if (store == null) return Optional.empty();
        Optional<StoredFile> stored = store.stat(key);
        if (stored.isPresent() || cache == null) return stored;
        Path local = localFile(name);
        if (local == null) return Optional.empty();
        try {
            BasicFileAttributes a = Files.readAttributes(local, BasicFileAttributes.class);
            return Optional.of(new StoredFile(key, a.size(), a.lastModifiedTime().toInstant()));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read LoRA " + local + ": " + e.getMessage(), e);
        }
    }

    /** Reads the LoRA's bytes (the bucket's file before the local one), without keeping a copy. */
    public InputStream open(String name) {
        String key = key(name);
        if (store != null && (cache == null || store.stat(key).isPresent())) return store.open(key);
        Path local = localFile(name);
        if (local == null) throw new IllegalArgumentException("loras: no LoRA named '" + name + "' (looked for " + where(key) + ")");
        try {
            return Files.newInputStream(local);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read LoRA " + local + ": " + e.getMessage(), e);
        }
    }

    /**
     * Copies a LoRA file into the catalog under {@code name} (into the bucket when there is one), atomically (a video
     * request sees the whole file or none). Returns false, copying nothing, when the name is taken and not
     * {@code replace}; a name is claimed atomically even against another replica's add.
     */
    public boolean add(Path file, String name, boolean replace) {
        String key = key(name);
        if (store == null) throw new IllegalStateException("this model has no LoRA directory to add '" + name + "' to");
        if (replace) {
            store.put(key, file);
            return true;
        }
        if (cache != null && localFile(name) != null) return false;
        return store.putIfAbsent(key, file);
    }

    /**
     * Removes a LoRA: false when there is none of that name. A LoRA only in the model's local directory beside a
     * bucket is not removed: {@link IllegalStateException} saying so.
     */
    public boolean delete(String name) {
        String key = key(name);
        if (store == null) return false;
        if (store.stat(key).isPresent()) {
            store.delete(key);
            if (cache != null) deleteCopy(key);
            return true;
        }
        if (cache != null && localFile(name) != null)
            throw new IllegalStateException("'" + name + "' is in the model's LoRA directory " + dir
                    + ", shared read-only beside the bucket; remove the file there");
        return false;
    }

    /** Names of every LoRA (the store's and the local directory's), sorted, each once. */
    public List<String> names() {
        if (store == null) return List.of();
        TreeSet<String> names = new TreeSet<>();
        for (StoredFile f : store.list("")) {
            String name = nameOf(f.key());
            if (name != null) names.add(name);
        }
        if (cache != null && dir != null && Files.isDirectory(dir)) {
            try (Stream<Path> s = Files.list(dir)) {
                s.filter(Files::isRegularFile).map(p -> nameOf(p.getFileName().toString())).filter(n -> n != null).forEach(names::add);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot list LoRA directory " + dir + ": " + e.getMessage(), e);
            }
        }
        return List.copyOf(names);
    }

    /** The catalog name of a key, or null for a key that is none ({@code x.tmp}, {@code a/b.safetensors}). */
    private static String nameOf(String key) {
        if (!key.endsWith(SUFFIX)) return null;
        String name = key.substring(0, key.length() - SUFFIX.length());
        return GenerateRequest.LoraRef.isCatalogName(name) ? name : null;
    }

    /** The key of a checked name. */
    private static String key(String name) {
        new GenerateRequest.LoraRef(name, 1.0);   // validates the name: no path, no '..'
        String key = name + SUFFIX;
        if (key.contains("/")) throw new IllegalArgumentException("loras: name '" + name + "' points outside the LoRA directory");
        return key;
    }

    /** The LoRA's file in the local directory beside a bucket, or null. */
    private Path localFile(String name) {
        if (cache == null || dir == null) return null;
        Path file = dir.resolve(name + SUFFIX).normalize();
        if (!dir.equals(file.getParent())) throw new IllegalArgumentException("loras: name '" + name + "' points outside the LoRA directory");
        return Files.isRegularFile(file) ? file : null;
    }

    private String where(String key) {
        if (cache == null) return dir.resolve(key).toString();
        return key + " in " + describe();
    }

    /** The cached copy of a stored file, downloaded unless one of its size and modification time is there. */
    private Path copy(StoredFile stored) {
        Path target = cache.resolve(stored.key());
        synchronized (downloads.computeIfAbsent(stored.key(), k -> new Object())) {
            try {
                if (fresh(target, stored)) return target;
                store.download(stored.key(), target);   // appears whole or not at all
                Files.setLastModifiedTime(target, FileTime.from(stored.lastModified()));
                return target;
            } catch (IOException e) {
                throw new UncheckedIOException("cannot keep a copy of LoRA '" + stored.key() + "' in " + cache + ": " + e.getMessage(), e);
            }
        }
    }

    private static boolean fresh(Path copy, StoredFile stored) throws IOException {
        try {
            BasicFileAttributes a = Files.readAttributes(copy, BasicFileAttributes.class);
            return a.isRegularFile() && a.size() == stored.size() && a.lastModifiedTime().toMillis() == stored.lastModified().toEpochMilli();
        } catch (NoSuchFileException e) {
            return false;
        }
    }

    private void deleteCopy(String key) {
        synchronized (downloads.computeIfAbsent(key, k -> new Object())) {
            try {
                Files.deleteIfExists(cache.resolve(key));
            } catch (IOException ignored) {
                // a stale copy is never used: resolve checks the bucket first
            }
        }
    }
}
