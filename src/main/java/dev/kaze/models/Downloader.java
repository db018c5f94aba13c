package dev.kaze.models;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Downloads one file safely: into {@code .kaze/<name>.part} beside the target, resuming with
 * {@code Range} after a cut connection or a restart, hashing while writing, and renaming into
 * place atomically only once the bytes match the published hash (a mismatch removes the partial
 * file and downloads once more). Concurrent pulls of a target wait for each other (a lock per
 * target in this JVM and a file lock on {@code .kaze/<name>.lock} across processes), and a
 * verified file is recorded in a sidecar so that it is skipped later without hashing it again.
 */
public final class Downloader {
    /** Space left free beyond what the download needs. */
    public static final long MARGIN = 64L << 20;
    private static final ConcurrentHashMap<Path, ReentrantLock> IN_PROCESS = new ConcurrentHashMap<>();
    private static final Pattern CONTENT_RANGE = Pattern.compile("bytes\\s+(\\d+)-(\\d+)/(\\d+|\\*)");
    private static final long PROGRESS_NANOS = 200_000_000L;

    private final HttpGet http;
    private final FreeSpace freeSpace;
    private final int attempts;
    private final Duration pause;

    /** attempts: transfers tried per file before giving up (each resumes the last); pause grows with each retry. */
    public Downloader(HttpGet http, FreeSpace freeSpace, int attempts, Duration pause) {
        if (attempts < 1) throw new IllegalArgumentException("attempts must be at least 1, got " + attempts);
        this.http = http;
        this.freeSpace = freeSpace;
        this.attempts = attempts;
        this.pause = pause;
    }

    public static Downloader create() { return new Downloader(HttpGet.create(), FreeSpace.DISK, 5, Duration.ofSeconds(2)); }

    /** Bytes still to fetch for target: 0 when verified already, the size less a partial download's bytes. */
    public long remaining(RemoteFile file, Path target) {
        if (file.size() < 0 || Sidecar.verifies(target.toAbsolutePath().normalize(), file)) return 0;
        return Math.max(0, file.size() - length(Sidecar.partOf(target.toAbsolutePath().normalize())));
    }

    /** Fails with {@link PullException.DiskFull} when dir's disk has less than bytes plus the margin free. */
    public void requireSpace(String what, Path dir, long bytes) {
        if (bytes <= 0) return;
        long free = free(dir);
        if (free < bytes + MARGIN)
            throw new PullException.DiskFull(what + ": not enough disk space in " + dir + ": it needs " + Bytes.human(bytes)
                    + " (plus " + Bytes.human(MARGIN) + " to spare) and " + Bytes.human(free)
                    + " is free; free some space there or pull into a directory on a larger disk (--root, --loras)", bytes, free);
    }

    /** Puts file at target (or finds it there already verified) and reports to listener. */
    public PullEvent.FileDone fetch(RemoteFile file, Path target, PullListener listener) {
        Path t = target.toAbsolutePath().normalize();
        if (Sidecar.verifies(t, file)) return skipped(file, t, listener);
        requireSpace(file.label(), t.getParent(), remaining(file, t));
        ReentrantLock lock = IN_PROCESS.computeIfAbsent(t, p -> new ReentrantLock());
        lock.lock();
        try {
            Files.createDirectories(Sidecar.workDir(t));
            try (FileChannel channel = FileChannel.open(Sidecar.lockOf(t), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                 FileLock held = channel.lock()) {
                if (Sidecar.verifies(t, file)) return skipped(file, t, listener);
                if (adopt(file, t)) return skipped(file, t, listener);
                return download(file, t, listener);
            }
        } catch (InterruptedIOException e) {
            throw new PullException(file.label() + ": interrupted; run the pull again to resume", e);
        } catch (IOException e) {
            throw new PullException(file.label() + ": cannot write in " + t.getParent() + " (" + e + "); check the directory's permissions", e);
        } finally {
            lock.unlock();
        }
    }

    private PullEvent.FileDone download(RemoteFile file, Path target, PullListener listener) throws IOException {
        Path part = Sidecar.partOf(target);
        Checksum expected = file.checksum();
        for (int round = 1; ; round++) {
            String actual = transfer(file, target, part, listener);
            if (expected == null || expected.hex().equals(actual)) {
                String algorithm = expected == null ? Checksum.Algorithm.SHA256.label() : expected.algorithm().label();
                if (expected != null) listener.on(new PullEvent.FileVerified(file.label(), algorithm, actual));
                Files.move(part, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                Sidecar.write(target, algorithm, actual);
                PullEvent.FileDone done = new PullEvent.FileDone(file.label(), target, Files.size(target), true);
                listener.on(done);
                return done;
            }
            Files.deleteIfExists(part);
            if (round == 2)
                throw new PullException.HashMismatch(file.label() + ": downloaded twice and both times the bytes do not match the published "
                        + expected.algorithm().label() + " (expected " + expected.hex() + ", got " + actual + "); the partial file was removed and "
                        + "nothing was put at " + target + ". The server, a proxy or the HF_ENDPOINT mirror serves other bytes than it lists: "
                        + "try again later or use another endpoint");
        }
    }

    /** Downloads into part until it holds the whole file (resuming what is there); returns the hash of its bytes. */
    private String transfer(RemoteFile file, Path target, Path part, PullListener listener) throws IOException {
        Checksum expected = file.checksum();
        long total = file.exactSize() ? file.size() : -1;
        for (int attempt = 1; ; attempt++) {
            long have = length(part);
            if (total >= 0 && have > total) { Files.delete(part); have = 0; }
            MessageDigest md = expected != null ? expected.start(file.size()) : Checksum.sha256Digest();
            if (have > 0) hashInto(part, md);
            long done = have;
            try {
                HttpResponse<InputStream> response = http.open(file.uri(), file.access(), have > 0 ? "bytes=" + have + "-" : null);
                try (InputStream in = response.body()) {
                    int status = response.statusCode();
                    String contentRange = response.headers().firstValue("Content-Range").orElse("");
                    Matcher range = CONTENT_RANGE.matcher(contentRange);
                    boolean append;
                    if (status == 206 && have > 0 && range.find() && Long.parseLong(range.group(1)) == have) {
                        append = true;
                        if (total < 0 && !range.group(3).equals("*")) total = Long.parseLong(range.group(3));
                    } else if (status == 200) {
                        append = false;                                   // no Range sent, or the server ignored it: start over
                        done = 0;
                        md = expected != null ? expected.start(file.size()) : Checksum.sha256Digest();
                        long length = response.headers().firstValueAsLong("Content-Length").orElse(-1);
                        if (total < 0 && length >= 0) total = length;
                    } else if (status == 416 && have > 0 && (have == total || contentRange.endsWith("/" + have))) {
                        return Checksum.hex(md);                          // the partial file already holds every byte
                    } else if (status == 206 || status == 416) {
                        Files.deleteIfExists(part);                       // a range we did not ask for: start over
                        throw new IOException("the server answered HTTP " + status + " " + contentRange + " to a resume at byte " + have);
                    } else if (status == 429 || status >= 500) {
                        throw new IOException("HTTP " + status + " from " + response.uri().getHost());
                    } else {
                        throw HttpGet.refused(response, file.label(), file.access());
                    }
                    String type = response.headers().firstValue("Content-Type").orElse("").toLowerCase(Locale.ROOT);
                    if (type.startsWith("text/html") && !file.uri().getPath().endsWith(".html"))
                        throw new PullException(file.label() + ": " + response.uri().getHost() + " answered a web page instead of the file "
                                + "(often a login page); " + file.access().deniedHint());
                    if (!file.exactSize() && total > 0) requireSpace(file.label(), target.getParent(), total - done);
                    listener.on(new PullEvent.FileStarted(file.label(), target, total, done));
                    done = copy(in, part, append, md, done, total, file, target, listener);
                }
                if (total >= 0 && done < total)
                    throw new IOException("the connection closed after " + done + " of " + total + " bytes");
                if (total >= 0 && done > total) {
                    Files.deleteIfExists(part);
                    throw new IOException("the server sent " + done + " bytes where " + total + " were listed");
                }
                return Checksum.hex(md);
            } catch (InterruptedIOException e) {
                throw e;
            } catch (IOException e) {
                if (attempt >= attempts)
                    throw new PullException(file.label() + ": the download failed " + attempts + " time(s), last: " + e.getMessage()
                            + "; " + Bytes.human(length(part)) + " are kept in " + part + ", run the pull again to resume from there", e);
                sleep(pause.multipliedBy(attempt));
            }
        }
    }

    private long copy(InputStream in, Path part, boolean append, MessageDigest md, long done, long total,
                      RemoteFile file, Path target, PullListener listener) throws IOException {
        long start = System.nanoTime();
        long last = start;
        long first = done;
        byte[] buffer = new byte[1 << 20];
        try (FileChannel out = openPart(part, append, file)) {
            int n;
            while ((n = in.read(buffer)) >= 0) {
                write(out, buffer, n, file, target, total - done);
                md.update(buffer, 0, n);
                done += n;
                long now = System.nanoTime();
                if (now - last >= PROGRESS_NANOS) {
                    last = now;
                    listener.on(new PullEvent.FileProgress(file.label(), done, total, speed(done - first, now - start)));
                }
            }
            out.force(true);
        } finally {
            listener.on(new PullEvent.FileProgress(file.label(), done, total, speed(done - first, System.nanoTime() - start)));
        }
        return done;
    }

    private FileChannel openPart(Path part, boolean append, RemoteFile file) {
        try {
            return append ? FileChannel.open(part, StandardOpenOption.WRITE, StandardOpenOption.APPEND)
                    : FileChannel.open(part, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
        } catch (IOException e) {
            throw new PullException(file.label() + ": cannot write " + part + " (" + e + "); check the directory's permissions", e);
        }
    }

    /** Writes to disk; a failure here is not the network's and is not retried. */
    private void write(FileChannel out, byte[] buffer, int n, RemoteFile file, Path target, long stillNeeded) {
        try {
            ByteBuffer b = ByteBuffer.wrap(buffer, 0, n);
            while (b.hasRemaining()) out.write(b);
        } catch (IOException e) {
            throw writeFailure(e, file, target, stillNeeded);
        }
    }

    static PullException writeFailure(IOException e, RemoteFile file, Path target, long stillNeeded) {
        String message = String.valueOf(e.getMessage());
        if (message.contains("No space left on device") || message.contains("not enough space") || message.contains("Disk quota exceeded"))
            return new PullException.DiskFull(file.label() + ": the disk holding " + target.getParent() + " is full (" + message + "); "
                    + (stillNeeded >= 0 ? Bytes.human(stillNeeded) + " more are needed. " : "")
                    + "The partial download is kept in " + Sidecar.partOf(target) + ": free some space and run the pull again to resume",
                    Math.max(stillNeeded, 0), 0);
        return new PullException(file.label() + ": cannot write " + Sidecar.partOf(target) + " (" + e + ")", e);
    }

    private boolean adopt(RemoteFile file, Path target) throws IOException {
        Checksum expected = file.checksum();
        if (expected == null || !file.exactSize() || !Files.isRegularFile(target) || Files.size(target) != file.size()) return false;
        MessageDigest md = expected.start(file.size());
        hashInto(target, md);
        if (!Checksum.hex(md).equals(expected.hex())) return false;
        Sidecar.write(target, expected.algorithm().label(), expected.hex());
        return true;
    }

    private static PullEvent.FileDone skipped(RemoteFile file, Path target, PullListener listener) {
        PullEvent.FileDone done = new PullEvent.FileDone(file.label(), target, length(target), false);
        listener.on(done);
        return done;
    }

    private long free(Path dir) {
        Path existing = dir.toAbsolutePath();
        while (existing != null && !Files.isDirectory(existing)) existing = existing.getParent();
        try {
            return freeSpace.usableBytes(existing == null ? dir.toAbsolutePath().getRoot() : existing);
        } catch (IOException e) {
            return Long.MAX_VALUE;                                        // unknown: let the write itself find out
        }
    }

    private static void hashInto(Path file, MessageDigest md) throws IOException {
        byte[] buffer = new byte[1 << 20];
        try (InputStream in = Files.newInputStream(file)) {
            int n;
            while ((n = in.read(buffer)) >= 0) md.update(buffer, 0, n);
        }
    }

    private static long length(Path p) {
        try {
            return Files.isRegularFile(p) ? Files.size(p) : 0;
        } catch (IOException e) {
            return 0;
        }
    }

    private static double speed(long bytes, long nanos) { return nanos <= 0 ? 0 : bytes * 1e9 / nanos; }

    private static void sleep(Duration d) throws InterruptedIOException {
        try {
            Thread.sleep(d);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting to retry");
        }
    }
}
