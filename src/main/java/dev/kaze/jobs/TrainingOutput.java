package dev.kaze.jobs;

import dev.kaze.storage.FileStore;
import dev.kaze.storage.StoredFile;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * A training run's files (LoRAs, states, samples, logs, the loss chart) in two places: the local directory the trainer
 * writes to, and the file store under {@code jobs/<id>/output/<path in the directory>}, where the API serves them from
 * and where another worker finds the run's states. {@link #publish} copies what is new or changed since the last
 * publish; a file that already is the stored file (a {@code DiskStore} over the data directory, the default) is not
 * copied. {@link #restore} brings a run's stored files back to a machine that lacks them.
 */
public final class TrainingOutput {
    private static final Logger log = LoggerFactory.getLogger(TrainingOutput.class);

    private final FileStore files;
    private final String prefix;
    private final Path dir;
    /** What was published of each file (its size and modification time then). */
    private final Map<Path, Version> published = new HashMap<>();

    private record Version(long size, FileTime modified) {}

    TrainingOutput(FileStore files, String id, Path dir) {
        this.files = files;
        this.prefix = prefix(id);
        this.dir = dir;
    }

    /** The store prefix of a run's files: {@code jobs/<id>/output/}. */
    public static String prefix(String id) { return JobQueue.fileKey(id, "output/"); }

    Path dir() { return dir; }

    /** Copies every file of the directory that is new or changed since the last publish to the store. */
    void publish() {
        if (!Files.isDirectory(dir)) return;
        List<Path> found;
        try (Stream<Path> s = Files.walk(dir)) {
            found = s.filter(Files::isRegularFile).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir + ": " + e.getMessage(), e);
        }
        for (Path p : found) {
            String key = prefix + dir.relativize(p).toString().replace('\\', '/');
            if (isStored(key, p)) continue;
            Version v = version(p);
            if (v == null || v.equals(published.get(p))) continue;   // gone meanwhile, or published as it is
            files.put(key, p);
            published.put(p, v);
        }
    }

    /** {@link #publish}, a failure logged rather than thrown (the next publish copies what this one missed). */
    void publishQuietly() {
        try {
            publish();
        } catch (RuntimeException e) {
            log.warn("could not copy the files of {} to {}: {}", dir, files.describe(), e.getMessage());
        }
    }

    /**
     * Fetches the run's stored files that the directory lacks (the run goes on on a machine other than the one that
     * began it). Returns how many came.
     */
    int restore() {
        int fetched = 0;
        for (StoredFile f : files.list(prefix)) {
            Path target = dir.resolve(f.key().substring(prefix.length()));
            if (Files.exists(target) || isStored(f.key(), target)) continue;
            files.download(f.key(), target);
            published.put(target, version(target));
            fetched++;
        }
        return fetched;
    }

    /**
     * Fetches the saved states (the {@code *-state} directories) of run id from the store into target, keeping their
     * names. Returns target.
     */
    static Path fetchStates(FileStore files, String id, Path target) {
        String prefix = prefix(id);
        for (StoredFile f : files.list(prefix)) {
            String rel = f.key().substring(prefix.length());
            int slash = rel.indexOf('/');
            if (slash > 0 && rel.substring(0, slash).endsWith("-state")) files.download(f.key(), target.resolve(rel));
        }
        return target;
    }

    /** Whether the run has a saved state in the store: a file in a {@code *-state} directory of its output. */
    public static boolean hasStoredState(FileStore files, String id) {
        String prefix = prefix(id);
        return files.list(prefix).stream().map(f -> f.key().substring(prefix.length()))
                .anyMatch(rel -> rel.indexOf('/') > 0 && rel.substring(0, rel.indexOf('/')).endsWith("-state"));
    }

    /** True when key's stored file is the local file itself (the store is this directory). */
    private boolean isStored(String key, Path local) {
        Optional<Path> stored = files.localFile(key);
        if (stored.isEmpty()) return false;
        try {
            return Files.exists(local) && Files.isSameFile(stored.get(), local);
        } catch (IOException e) {
            return false;
        }
    }

    private static Version version(Path p) {
        try {
            BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class);
            return new Version(a.size(), a.lastModifiedTime());
        } catch (IOException e) {
            return null;
        }
    }
}
