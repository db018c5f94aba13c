package dev.kaze.storage;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * A {@link FileStore} in a local directory: key {@code a/b/c} is the file {@code <root>/a/b/c}. Writes go to a
 * temporary file beside the target ({@code .put-*.tmp}, never listed) and are renamed into place.
 */
public record DiskStore(Path root) implements FileStore {
    private static final String TMP_PREFIX = ".put-";

    public DiskStore {
        root = root.toAbsolutePath().normalize();
    }

    @Override public void put(String key, Path file) {
        write(key, tmp -> Files.copy(file, tmp, StandardCopyOption.REPLACE_EXISTING));
    }

    @Override public void put(String key, byte[] bytes) {
        write(key, tmp -> Files.write(tmp, bytes));
    }

    @Override public boolean putIfAbsent(String key, Path file) {
        Path target = path(key);
        Path tmp = null;
        try {
            tmp = Files.createTempFile(Files.createDirectories(target.getParent()), TMP_PREFIX, ".tmp");
            Files.copy(file, tmp, StandardCopyOption.REPLACE_EXISTING);
            try {
                Files.createLink(target, tmp);   // claims the name atomically, even against a racing writer
                return true;
            } catch (FileAlreadyExistsException e) {
                return false;
            }
        } catch (IOException e) {
            throw failure("store", key, e);
        } finally {
            deleteQuietly(tmp);
        }
    }

    @Override public Optional<StoredFile> stat(String key) {
        Path p = path(key);
        try {
            BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class);
            if (!a.isRegularFile()) return Optional.empty();
            return Optional.of(new StoredFile(key, a.size(), a.lastModifiedTime().toInstant()));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw failure("read", key, e);
        }
    }

    @Override public InputStream open(String key) {
        try {
            return Files.newInputStream(existing(key));
        } catch (IOException e) {
            throw failure("read", key, e);
        }
    }

    @Override public InputStream open(String key, long offset, long length) {
        checkRange(offset, length);
        try {
            FileChannel channel = FileChannel.open(existing(key), StandardOpenOption.READ);
            channel.position(offset);
            InputStream in = Channels.newInputStream(channel);
            return new BoundedInputStream(in, length);
        } catch (IOException e) {
            throw failure("read", key, e);
        }
    }

    @Override public void download(String key, Path target) {
        Path source = existing(key);
        Path tmp = null;
        try {
            Path dir = target.toAbsolutePath().getParent();
            tmp = Files.createTempFile(Files.createDirectories(dir), TMP_PREFIX, ".tmp");
            Files.copy(source, tmp, StandardCopyOption.REPLACE_EXISTING);
            move(tmp, target);
        } catch (IOException e) {
            throw failure("copy", key, e);
        } finally {
            deleteQuietly(tmp);
        }
    }

    @Override public List<StoredFile> list(String prefix) {
        String p = FileStore.checkPrefix(prefix);
        int slash = p.lastIndexOf('/');
        Path dir = slash < 0 ? root : root.resolve(p.substring(0, slash));
        if (!Files.isDirectory(dir)) return List.of();
        List<StoredFile> files = new ArrayList<>();
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path f : (Iterable<Path>) walk::iterator) {
                if (f.getFileName().toString().startsWith(TMP_PREFIX)) continue;
                String key = key(f);
                if (!key.startsWith(p)) continue;
                BasicFileAttributes a;
                try {
                    a = Files.readAttributes(f, BasicFileAttributes.class);
                } catch (NoSuchFileException gone) {
                    continue;   // deleted while listed
                }
                if (a.isRegularFile()) files.add(new StoredFile(key, a.size(), a.lastModifiedTime().toInstant()));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list '" + p + "' in " + root + ": " + e.getMessage(), e);
        } catch (UncheckedIOException e) {   // from the walk's iterator
            throw new UncheckedIOException("cannot list '" + p + "' in " + root + ": " + e.getMessage(), e.getCause());
        }
        files.sort(Comparator.comparing(StoredFile::key));
        return files;
    }

    @Override public void delete(String key) {
        try {
            Files.deleteIfExists(path(key));
        } catch (IOException e) {
            throw failure("delete", key, e);
        }
    }

    @Override public void deleteAll(String prefix) {
        String p = FileStore.checkPrefix(prefix);
        for (StoredFile f : list(p)) delete(f.key());
        if (p.endsWith("/") || p.isEmpty()) deleteEmptyDirectories(p.isEmpty() ? root : path(p.substring(0, p.length() - 1)));
    }

    @Override public FileStore within(String prefix) {
        return new DiskStore(path(prefix));
    }

    @Override public Optional<Path> localFile(String key) {
        Path p = path(key);
        return Files.isRegularFile(p) ? Optional.of(p) : Optional.empty();
    }

    @Override public String describe() { return root.toString(); }

    /** The path of a key; never outside the root. */
    private Path path(String key) {
        Path p = root.resolve(FileStore.checkKey(key)).normalize();
        if (!p.startsWith(root) || p.equals(root)) throw new IllegalArgumentException("storage key '" + key + "' points outside " + root);
        return p;
    }

    private Path existing(String key) {
        Path p = path(key);
        if (!Files.isRegularFile(p)) throw new StoredFileNotFoundException(key, root.toString());
        return p;
    }

    private String key(Path file) {
        return root.relativize(file).toString().replace(file.getFileSystem().getSeparator(), "/");
    }

    private interface Writer {
        void write(Path tmp) throws IOException;
    }

    private void write(String key, Writer writer) {
        Path target = path(key);
        Path tmp = null;
        try {
            tmp = Files.createTempFile(Files.createDirectories(target.getParent()), TMP_PREFIX, ".tmp");
            writer.write(tmp);
            move(tmp, target);
        } catch (IOException e) {
            throw failure("store", key, e);
        } finally {
            deleteQuietly(tmp);
        }
    }

    private static void move(Path tmp, Path target) throws IOException {
        try {
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private void deleteEmptyDirectories(Path dir) {
        if (!Files.isDirectory(dir)) return;
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path d : walk.filter(Files::isDirectory).sorted(Comparator.reverseOrder()).toList()) {
                try (Stream<Path> entries = Files.list(d)) {
                    if (entries.findAny().isEmpty() && !d.equals(root)) Files.deleteIfExists(d);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete the directories under " + dir + ": " + e.getMessage(), e);
        }
    }

    private UncheckedIOException failure(String what, String key, IOException e) {
        return new UncheckedIOException("cannot " + what + " '" + key + "' in " + root + ": " + e.getMessage(), e);
    }

    private static void deleteQuietly(Path tmp) {
        if (tmp == null) return;
        try {
            Files.deleteIfExists(tmp);
        } catch (IOException ignored) {
            // a temporary file left behind is never listed
        }
    }

    static void checkRange(long offset, long length) {
        if (offset < 0 || length < 0) throw new IllegalArgumentException("offset and length must be 0 or more, got " + offset + " and " + length);
    }
}
