package dev.kaze.storage;

import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.core.sync.ResponseTransformer;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.GetObjectRequest;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * A {@link FileStore} in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, Cloudflare R2, s3proxy): key {@code k} is
 * the object {@code <prefix>k}. A PUT is atomic on S3, so readers see whole objects; {@link #putIfAbsent} asks the
 * server for {@code If-None-Match: *} and checks first, for servers that ignore it.
 *
 * @param client the SDK client (shared by every view of the bucket; closed by whoever built it)
 * @param bucket the bucket
 * @param prefix prepended to every key: empty, or ending in {@code /}
 */
public record S3Store(S3Client client, String bucket, String prefix) implements FileStore {
    public S3Store {
        prefix = prefix == null || prefix.isEmpty() ? "" : FileStore.checkPrefix(prefix.endsWith("/") ? prefix : prefix + "/");
    }

    @Override public void put(String key, Path file) {
        call("store", key, () -> client.putObject(b -> b.bucket(bucket).key(object(key)), RequestBody.fromFile(file)));
    }

    @Override public void put(String key, byte[] bytes) {
        call("store", key, () -> client.putObject(b -> b.bucket(bucket).key(object(key)), RequestBody.fromBytes(bytes)));
    }

    @Override public boolean putIfAbsent(String key, Path file) {
        if (stat(key).isPresent()) return false;
        return call("store", key, () -> {
            try {
                client.putObject(b -> b.bucket(bucket).key(object(key)).ifNoneMatch("*"), RequestBody.fromFile(file));
                return true;
            } catch (S3Exception e) {
                if (e.statusCode() == 412 || e.statusCode() == 409) return false;   // taken meanwhile
                throw e;
            }
        });
    }

    @Override public Optional<StoredFile> stat(String key) {
        try {
            HeadObjectResponse head = call("read", key, () -> client.headObject(b -> b.bucket(bucket).key(object(key))));
            return Optional.of(new StoredFile(key, head.contentLength(), head.lastModified()));
        } catch (StoredFileNotFoundException e) {
            return Optional.empty();
        }
    }

    @Override public InputStream open(String key) {
        return call("read", key, () -> client.getObject(b -> b.bucket(bucket).key(object(key))));
    }

    @Override public InputStream open(String key, long offset, long length) {
        DiskStore.checkRange(offset, length);
        if (length == 0) return InputStream.nullInputStream();
        GetObjectRequest request = GetObjectRequest.builder().bucket(bucket).key(object(key))
                .range("bytes=" + offset + "-" + (offset + length - 1)).build();
        return call("read", key, () -> client.getObject(request));
    }

    @Override public void download(String key, Path target) {
        Path tmp = null;
        try {
            Path dir = target.toAbsolutePath().getParent();
            tmp = Files.createTempFile(Files.createDirectories(dir), ".get-", ".tmp");
            Files.delete(tmp);   // the SDK creates the file itself
            Path to = tmp;
            call("copy", key, () -> client.getObject(b -> b.bucket(bucket).key(object(key)), ResponseTransformer.toFile(to)));
            try {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot copy '" + key + "' from " + describe() + " to " + target + ": " + e.getMessage(), e);
        } finally {
            if (tmp != null) try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // nothing was moved into place
            }
        }
    }

    @Override public List<StoredFile> list(String listPrefix) {
        String p = FileStore.checkPrefix(listPrefix);
        List<StoredFile> files = new ArrayList<>();
        call("list", p, () -> {
            for (S3Object o : client.listObjectsV2Paginator(b -> b.bucket(bucket).prefix(prefix + p)).contents()) {
                if (o.key().endsWith("/")) continue;   // a "directory" marker some servers keep, not a file
                files.add(new StoredFile(o.key().substring(prefix.length()), o.size(), o.lastModified()));
            }
            return null;
        });
        files.sort(Comparator.comparing(StoredFile::key));
        return files;
    }

    @Override public void delete(String key) {
        call("delete", key, () -> client.deleteObject(b -> b.bucket(bucket).key(object(key))));
    }

    /**
     * One DELETE per file: multi-object delete needs a Content-MD5 or checksum header that several S3-compatible
     * servers refuse, and what Kaze deletes at once (a job's files, a training run) is a handful of objects.
     */
    @Override public void deleteAll(String listPrefix) {
        for (StoredFile f : list(listPrefix)) delete(f.key());
    }

    @Override public FileStore within(String sub) {
        return new S3Store(client, bucket, prefix + FileStore.checkKey(sub) + "/");
    }

    @Override public Optional<Path> localFile(String key) { return Optional.empty(); }

    @Override public String describe() { return "s3://" + bucket + "/" + prefix; }

    private String object(String key) { return prefix + FileStore.checkKey(key); }

    /** Runs a request: a missing key is a {@link StoredFileNotFoundException}, other failures an UncheckedIOException naming the key. */
    private <T> T call(String what, String key, Supplier<T> request) {
        try {
            return request.get();
        } catch (NoSuchKeyException e) {
            throw new StoredFileNotFoundException(key, describe());
        } catch (S3Exception e) {
            if (e.statusCode() == 404 && !"NoSuchBucket".equals(errorCode(e))) throw new StoredFileNotFoundException(key, describe());
            throw new UncheckedIOException("cannot " + what + " '" + key + "' in " + describe() + ": " + message(e), new IOException(e));
        } catch (RuntimeException e) {
            if (e instanceof StoredFileNotFoundException || e instanceof IllegalArgumentException) throw e;
            throw new UncheckedIOException("cannot " + what + " '" + key + "' in " + describe() + ": " + e.getMessage(), new IOException(e));
        }
    }

    private static String errorCode(S3Exception e) {
        return e.awsErrorDetails() == null ? null : e.awsErrorDetails().errorCode();
    }

    private static String message(S3Exception e) {
        String code = errorCode(e);
        return (code == null ? "" : code + ": ") + e.statusCode() + " " + e.getMessage();
    }
}
