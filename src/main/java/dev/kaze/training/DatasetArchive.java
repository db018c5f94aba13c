package dev.kaze.training;

import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;

/**
 * Unpacks an uploaded dataset archive ({@code .zip}, {@code .tar}, {@code .tar.gz}; recognised by content, not by
 * name) into a fresh directory, refusing anything that could write outside it or fill the disk:
 *
 * <ul>
 * <li>entry names with a {@code ..} segment, absolute paths, drive letters ({@code C:}) or NUL bytes; duplicate names;</li>
 * <li>symbolic links, hard links and special files (zip entries whose Unix mode says so; tar link/device entries);</li>
 * <li>more than {@link Limits#maxEntries} entries (counted from the zip central directory before anything is
 * written);</li>
 * <li>more than {@link Limits#maxEntryBytes} in one file or {@link Limits#maxTotalBytes} in all, counted while
 * streaming (the sizes an archive declares are not trusted), and more than {@link Limits#maxRatio} bytes out per byte
 * in (per zip entry and over the whole archive, with {@link #RATIO_SLACK} of grace for small files): a zip bomb
 * stops after at most about a limit's worth of output;</li>
 * <li>zip entries whose compressed data add up to more than the archive's size (overlapping entries).</li>
 * </ul>
 *
 * Files are created with CREATE_NEW under the real path of the destination, which must not exist or be empty. On any
 * failure everything extracted is deleted (and the destination too when this call created it) and a
 * {@link DatasetArchiveException} names the archive and the entry.
 */
public final class DatasetArchive {
    /** Output allowed beyond maxRatio × input, so that small, very compressible files (captions) pass. */
    public static final long RATIO_SLACK = 1L << 20;
    private static final long MAX_CENTRAL_DIRECTORY = 64L << 20;
    private static final long MAX_TAR_META = 1L << 20;
    private static final Pattern DRIVE = Pattern.compile("^[A-Za-z]:.*", Pattern.DOTALL);

    /**
     * @param maxEntries    files and directories in the archive
     * @param maxEntryBytes uncompressed bytes of one file
     * @param maxTotalBytes uncompressed bytes of all files
     * @param maxRatio      uncompressed bytes per compressed byte
     */
    public record Limits(int maxEntries, long maxEntryBytes, long maxTotalBytes, double maxRatio) {
        /** 20,000 entries, 4 GiB a file, 32 GiB in all, 100:1 (media barely compress; bombs reach 1000:1). */
        public static final Limits DEFAULT = new Limits(20_000, 4L << 30, 32L << 30, 100);

        public Limits {
            if (maxEntries < 1 || maxEntryBytes < 1 || maxTotalBytes < 1 || !(maxRatio >= 1))
                throw new IllegalArgumentException("archive limits must be positive (ratio at least 1), got " + maxEntries
                        + " entries, " + maxEntryBytes + " bytes a file, " + maxTotalBytes + " bytes in all, ratio " + maxRatio);
        }
    }

    /** What was extracted: the destination's real path, the number of files, their bytes. */
    public record Extracted(Path directory, int files, long bytes) {
    }

    private DatasetArchive() {
    }

    public static Extracted extract(Path archive, Path destDir, Limits limits) {
        if (!Files.isRegularFile(archive)) throw new DatasetArchiveException(null, archive + ": no such archive file");
        boolean created = !Files.exists(destDir, LinkOption.NOFOLLOW_LINKS);
        Path root;
        try {
            if (!created) {
                if (!Files.isDirectory(destDir, LinkOption.NOFOLLOW_LINKS))
                    throw new DatasetArchiveException(null, "cannot extract " + archive + " into " + destDir + ": it is not a directory");
                try (DirectoryStream<Path> s = Files.newDirectoryStream(destDir)) {
                    if (s.iterator().hasNext())
                        throw new DatasetArchiveException(null, "cannot extract " + archive + " into " + destDir + ": it is not empty");
                }
            }
            Files.createDirectories(destDir);
            root = destDir.toRealPath();
        } catch (IOException e) {
            throw new DatasetArchiveException(null, "cannot create " + destDir + " to extract " + archive + " into: " + e.getMessage(), e);
        }
        Sink sink = new Sink(archive, root, limits);
        try {
            switch (detect(archive)) {
                case ZIP -> zip(archive, sink);
                case TAR -> {
                    try (Counting raw = new Counting(new BufferedInputStream(Files.newInputStream(archive), 1 << 16))) {
                        tar(raw, raw, sink);
                    }
                }
                case TAR_GZ -> {
                    try (Counting raw = new Counting(new BufferedInputStream(Files.newInputStream(archive), 1 << 16));
                         InputStream in = new GZIPInputStream(raw, 1 << 16)) {
                        tar(in, raw, sink);
                    }
                }
            }
            if (sink.files == 0) throw new DatasetArchiveException(null, archive + ": the archive holds no files");
            return new Extracted(root, sink.files, sink.total);
        } catch (IOException | RuntimeException e) {
            deleteTree(root, created);
            if (e instanceof DatasetArchiveException d) throw d;
            String entry = sink.current;
            throw new DatasetArchiveException(entry, archive + ": " + (entry == null ? "" : "entry '" + entry + "': ")
                    + "cannot extract (" + e + "); the archive is damaged or not a zip/tar", e);
        }
    }

    private enum Format { ZIP, TAR, TAR_GZ }

    private static Format detect(Path archive) throws IOException {
        byte[] head = new byte[512];
        int n;
        try (InputStream in = Files.newInputStream(archive)) {
            n = in.readNBytes(head, 0, head.length);
        }
        if (n >= 4 && head[0] == 'P' && head[1] == 'K' && (head[2] == 3 && head[3] == 4 || head[2] == 5 && head[3] == 6))
            return Format.ZIP;
        if (n >= 2 && (head[0] & 0xff) == 0x1f && (head[1] & 0xff) == 0x8b) return Format.TAR_GZ;
        if (n == 512 && new String(head, 257, 5, StandardCharsets.ISO_8859_1).equals("ustar")) return Format.TAR;
        throw new DatasetArchiveException(null, archive + ": not a zip, tar or tar.gz archive; upload one of those");
    }

    // ---- zip ----

    /** One central-directory record: what ZipEntry does not tell (the host system and Unix mode). */
    private record Central(String name, int madeBy, long externalAttributes) {
        boolean unix() {
            return (madeBy >> 8) == 3;
        }

        int fileType() {
            return (int) ((externalAttributes >>> 16) & 0xF000);
        }
    }

    private static void zip(Path archive, Sink sink) throws IOException {
        List<Central> central = centralDirectory(archive, sink.limits);
        Set<String> names = new HashSet<>();
        for (Central c : central) {   // every name and type is checked before anything is written
            if (!names.add(c.name())) throw sink.refuse(c.name(), "appears twice in the archive");
            if (c.unix() && c.fileType() == 0xA000) throw sink.refuse(c.name(), "is a symbolic link; links are not allowed");
            if (c.unix() && c.fileType() != 0 && c.fileType() != 0x8000 && c.fileType() != 0x4000)
                throw sink.refuse(c.name(), "is not a regular file or directory");
            sink.resolve(c.name());
        }
        try (ZipFile zf = new ZipFile(archive.toFile())) {
            long compressed = 0;
            for (Central c : central) {
                ZipEntry e = zf.getEntry(c.name());
                if (e == null || !e.getName().equals(c.name())) throw sink.refuse(c.name(), "cannot be found in the zip file");
                compressed += Math.max(0, e.getCompressedSize());
            }
            if (compressed > Files.size(archive))
                throw new DatasetArchiveException(null, archive + ": the entries' compressed data (" + compressed
                        + " bytes) exceed the archive's size; overlapping entries are refused");
            for (Central c : central) {
                ZipEntry e = zf.getEntry(c.name());
                if (e.isDirectory()) sink.directory(c.name());
                else try (InputStream in = zf.getInputStream(e)) {
                    sink.file(c.name(), in, Math.max(0, e.getCompressedSize()));
                }
            }
        } catch (ZipException e) {
            throw new DatasetArchiveException(sink.current, archive + ": damaged zip archive (" + e.getMessage() + ")", e);
        }
    }

    /** Reads the central directory (zip64 included) for the names, host systems and Unix modes. */
    private static List<Central> centralDirectory(Path archive, Limits limits) throws IOException {
        try (FileChannel ch = FileChannel.open(archive, StandardOpenOption.READ)) {
            long size = ch.size();
            int tail = (int) Math.min(size, 22 + 65535);
            ByteBuffer end = read(ch, size - tail, tail);
            int eocd = -1;
            for (int p = tail - 22; p >= 0; p--)
                if (end.getInt(p) == 0x06054b50) {
                    eocd = p;
                    break;
                }
            if (eocd < 0) throw new DatasetArchiveException(null, archive + ": damaged zip archive (no end of central directory)");
            long count = end.getShort(eocd + 10) & 0xffff;
            long cdSize = end.getInt(eocd + 12) & 0xffffffffL;
            long cdOffset = end.getInt(eocd + 16) & 0xffffffffL;
            if (count == 0xffff || cdSize == 0xffffffffL || cdOffset == 0xffffffffL) {
                long at = size - tail + eocd - 20;
                ByteBuffer loc = at >= 0 ? read(ch, at, 20) : null;
                if (loc == null || loc.getInt(0) != 0x07064b50)
                    throw new DatasetArchiveException(null, archive + ": damaged zip64 archive (no zip64 locator)");
                long z = loc.getLong(8);
                if (z < 0 || z > size - 56) throw new DatasetArchiveException(null, archive + ": damaged zip64 archive");
                ByteBuffer z64 = read(ch, z, 56);
                if (z64.getInt(0) != 0x06064b50) throw new DatasetArchiveException(null, archive + ": damaged zip64 archive");
                count = z64.getLong(32);
                cdSize = z64.getLong(40);
                cdOffset = z64.getLong(48);
            }
            if (count > limits.maxEntries() || count < 0)
                throw new DatasetArchiveException(null, archive + ": " + count + " entries, more than the limit of "
                        + limits.maxEntries() + "; split the dataset or pack fewer files");
            if (cdSize > MAX_CENTRAL_DIRECTORY || cdOffset < 0 || cdSize < 0 || cdOffset + cdSize > size)
                throw new DatasetArchiveException(null, archive + ": damaged zip archive (central directory out of bounds)");
            ByteBuffer cd = read(ch, cdOffset, (int) cdSize);
            List<Central> out = new ArrayList<>();
            int p = 0;
            for (long i = 0; i < count; i++) {
                if (p + 46 > cdSize || cd.getInt(p) != 0x02014b50)
                    throw new DatasetArchiveException(null, archive + ": damaged zip archive (central directory record " + i + ")");
                int madeBy = cd.getShort(p + 4) & 0xffff;
                int nameLen = cd.getShort(p + 28) & 0xffff, extraLen = cd.getShort(p + 30) & 0xffff,
                        commentLen = cd.getShort(p + 32) & 0xffff;
                long attrs = cd.getInt(p + 38) & 0xffffffffL;
                if (p + 46 + nameLen > cdSize) throw new DatasetArchiveException(null, archive + ": damaged zip archive");
                byte[] name = new byte[nameLen];
                cd.get(p + 46, name);
                String decoded;
                try {
                    decoded = StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(name)).toString();
                } catch (CharacterCodingException e) {
                    throw new DatasetArchiveException(new String(name, StandardCharsets.ISO_8859_1), archive + ": entry '"
                            + new String(name, StandardCharsets.ISO_8859_1) + "': the name is not UTF-8; re-pack the archive with UTF-8 names");
                }
                out.add(new Central(decoded, madeBy, attrs));
                p += 46 + nameLen + extraLen + commentLen;
            }
            return out;
        }
    }

    private static ByteBuffer read(FileChannel ch, long at, int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
        while (b.hasRemaining()) if (ch.read(b, at + b.position()) < 0) throw new EOFException("archive ends early");
        return b.flip();
    }

    // ---- tar (ustar, GNU long names, pax path/size) ----

    private static void tar(InputStream in, Counting raw, Sink sink) throws IOException {
        byte[] h = new byte[512];
        String longName = null;
        Long paxSize = null;
        int entries = 0, headers = 0;
        while (true) {
            if (++headers > 2L * sink.limits.maxEntries() + 2)
                throw new DatasetArchiveException(null, sink.archive + ": more than " + sink.limits.maxEntries()
                        + " entries (counting tar header records), the limit; split the dataset or pack fewer files");
            if (in.readNBytes(h, 0, 512) != 512) throw new DatasetArchiveException(null, sink.archive + ": damaged tar archive (ends early)");
            if (allZero(h)) return;
            if (!new String(h, 257, 5, StandardCharsets.ISO_8859_1).equals("ustar") || !checksumOk(h))
                throw new DatasetArchiveException(null, sink.archive + ": damaged tar archive (bad header after " + entries + " entries)");
            String name = longName != null ? longName : ustarName(h);
            longName = null;
            long size = paxSize != null ? paxSize : number(h, 124, 12);
            paxSize = null;
            char type = (char) h[156];
            if (size < 0) throw sink.refuse(name, "has a negative size");
            switch (type) {
                case 'L', 'x', 'g', 'K' -> {
                    if (size > MAX_TAR_META) throw sink.refuse(name, "has a " + size + "-byte header record; refused");
                    byte[] data = in.readNBytes((int) size);
                    if (data.length != size) throw new DatasetArchiveException(name, sink.archive + ": damaged tar archive (ends early)");
                    skipPadding(in, size);
                    if (type == 'L') longName = cString(data);
                    if (type == 'x') {
                        for (String[] kv : pax(data)) {
                            if (kv[0].equals("path")) longName = kv[1];
                            if (kv[0].equals("size")) {
                                try {
                                    paxSize = Long.parseLong(kv[1]);
                                } catch (NumberFormatException e) {
                                    throw sink.refuse(name, "has a bad pax size '" + kv[1] + "'");
                                }
                            }
                        }
                    }
                    continue;
                }
                case '1' -> throw sink.refuse(name, "is a hard link; links are not allowed");
                case '2' -> throw sink.refuse(name, "is a symbolic link; links are not allowed");
                case '0', '\0', '7', '5' -> {
                }
                default -> throw sink.refuse(name, "is a special tar entry (type '" + type + "'); only files and directories are allowed");
            }
            if (++entries > sink.limits.maxEntries())
                throw new DatasetArchiveException(name, sink.archive + ": more than " + sink.limits.maxEntries()
                        + " entries, the limit; split the dataset or pack fewer files");
            if (type == '5' || name.endsWith("/") && size == 0) sink.directory(name);
            else sink.file(name, new Bounded(in, size, sink.archive, name), -1);
            skipPadding(in, size);
            sink.checkTotalRatio(raw.count);
        }
    }

    private static boolean allZero(byte[] h) {
        for (byte b : h) if (b != 0) return false;
        return true;
    }

    private static boolean checksumOk(byte[] h) {
        long sum = 0;
        for (int i = 0; i < 512; i++) sum += (i >= 148 && i < 156) ? ' ' : (h[i] & 0xff);
        return sum == number(h, 148, 8);
    }

    private static String ustarName(byte[] h) {
        String name = cString(Arrays.copyOfRange(h, 0, 100));
        String prefix = cString(Arrays.copyOfRange(h, 345, 500));
        return prefix.isEmpty() ? name : prefix + "/" + name;
    }

    private static String cString(byte[] b) {
        int n = 0;
        while (n < b.length && b[n] != 0) n++;
        return new String(b, 0, n, StandardCharsets.UTF_8);
    }

    /** An octal field (NUL/space terminated), or base-256 when the first byte's top bit is set. */
    private static long number(byte[] h, int off, int len) {
        if ((h[off] & 0x80) != 0) {
            long v = h[off] & 0x7f;
            for (int i = 1; i < len; i++) {
                if (v > (Long.MAX_VALUE >> 8)) return -1;
                v = (v << 8) | (h[off + i] & 0xff);
            }
            return v;
        }
        long v = 0;
        int i = off;
        while (i < off + len && (h[i] == ' ' || h[i] == 0)) i++;
        for (; i < off + len && h[i] >= '0' && h[i] <= '7'; i++) {
            if (v > (Long.MAX_VALUE >> 3)) return -1;
            v = v * 8 + (h[i] - '0');
        }
        return v;
    }

    private static List<String[]> pax(byte[] data) {
        List<String[]> out = new ArrayList<>();
        String s = new String(data, StandardCharsets.UTF_8);
        for (String rec : s.split("\n")) {
            int sp = rec.indexOf(' '), eq = rec.indexOf('=');
            if (sp > 0 && eq > sp) out.add(new String[]{rec.substring(sp + 1, eq), rec.substring(eq + 1)});
        }
        return out;
    }

    private static void skipPadding(InputStream in, long size) throws IOException {
        in.skipNBytes((512 - size % 512) % 512);
    }

    // ---- writing ----

    /** Where entries go, and the running totals the limits are checked against. */
    private static final class Sink {
        final Path archive;
        final Path root;
        final Limits limits;
        final byte[] buffer = new byte[1 << 16];
        long total;
        long compressedSoFar;
        int files;
        String current;

        Sink(Path archive, Path root, Limits limits) {
            this.archive = archive;
            this.root = root;
            this.limits = limits;
        }

        DatasetArchiveException refuse(String entry, String problem) {
            return new DatasetArchiveException(entry, archive + ": entry '" + entry + "' " + problem + "; nothing of the archive was kept");
        }

        /** The entry's path under root; refuses names that could leave it. */
        Path resolve(String name) {
            if (name.isEmpty()) throw refuse(name, "has an empty name");
            if (name.indexOf('\0') >= 0) throw refuse(name, "has a NUL byte in its name");
            if (name.startsWith("/") || name.startsWith("\\")) throw refuse(name, "is an absolute path");
            if (DRIVE.matcher(name).matches()) throw refuse(name, "starts with a drive letter");
            List<String> segments = new ArrayList<>();
            for (String s : name.split("[/\\\\]")) {
                if (s.equals("..")) throw refuse(name, "has a '..' segment (it would land outside the dataset directory)");
                if (!s.isEmpty() && !s.equals(".")) segments.add(s);
            }
            if (segments.isEmpty()) return root;
            Path target = root.resolve(String.join("/", segments)).normalize();
            if (!target.startsWith(root) || target.equals(root)) throw refuse(name, "resolves outside the dataset directory");
            return target;
        }

        void directory(String name) throws IOException {
            current = name;
            Files.createDirectories(resolve(name));
        }

        /** Streams one file; compressed is its stored size for the per-entry ratio check, or -1 to skip that check. */
        void file(String name, InputStream in, long compressed) throws IOException {
            current = name;
            Path target = resolve(name);
            if (target.equals(root)) throw refuse(name, "has no file name");
            Files.createDirectories(target.getParent());
            long written = 0;
            try (OutputStream out = Files.newOutputStream(target, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                files++;
                for (int n; (n = in.read(buffer)) > 0; ) {
                    written += n;
                    total += n;
                    if (written > limits.maxEntryBytes())
                        throw new DatasetArchiveException(name, archive + ": entry '" + name + "' unpacks to more than "
                                + limits.maxEntryBytes() + " bytes, the limit for one file; extraction stopped");
                    if (total > limits.maxTotalBytes())
                        throw new DatasetArchiveException(name, archive + ": the archive unpacks to more than "
                                + limits.maxTotalBytes() + " bytes, the limit (at entry '" + name + "'); extraction stopped");
                    if (compressed >= 0 && written > limits.maxRatio() * compressed + RATIO_SLACK)
                        throw new DatasetArchiveException(name, archive + ": entry '" + name + "' expands more than "
                                + limits.maxRatio() + " times (" + compressed + " bytes stored); refused as a zip bomb");
                    out.write(buffer, 0, n);
                }
            }
            if (compressed >= 0) checkTotalRatio(compressedSoFar += compressed);
        }

        void checkTotalRatio(long compressedTotal) {
            if (total > limits.maxRatio() * compressedTotal + RATIO_SLACK)
                throw new DatasetArchiveException(current, archive + ": the archive expands more than " + limits.maxRatio()
                        + " times; refused as a zip bomb");
        }
    }

    /** Counts the bytes read from the archive file. */
    private static final class Counting extends FilterInputStream {
        long count;

        Counting(InputStream in) {
            super(in);
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            if (b >= 0) count++;
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, len);
            if (n > 0) count += n;
            return n;
        }

        @Override
        public long skip(long n) throws IOException {
            long s = super.skip(n);
            count += s;
            return s;
        }
    }

    /** Exactly size bytes of a tar entry; an archive that ends sooner is an error naming the entry. */
    private static final class Bounded extends InputStream {
        private final InputStream in;
        private final Path archive;
        private final String name;
        private long left;

        Bounded(InputStream in, long size, Path archive, String name) {
            this.in = in;
            this.left = size;
            this.archive = archive;
            this.name = name;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (left == 0) return -1;
            int n = in.read(b, off, (int) Math.min(len, left));
            if (n < 0) throw new DatasetArchiveException(name, archive + ": entry '" + name + "' is cut short; the archive is damaged");
            left -= n;
            return n;
        }
    }

    private static void deleteTree(Path root, boolean includingRoot) {
        try {
            Files.walkFileTree(root, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                    Files.delete(file);
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
                    if (includingRoot || !dir.equals(root)) Files.delete(dir);
                    return FileVisitResult.CONTINUE;
                }
            });
        } catch (IOException ignored) {
            // best effort: the extraction error is what the caller needs
        }
    }
}
