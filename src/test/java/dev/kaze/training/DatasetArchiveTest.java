package dev.kaze.training;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Dataset archives: zip and tar(.gz) extraction, and every refusal (traversal, links, bombs, counts), all-or-nothing. */
class DatasetArchiveTest {
    private static final DatasetArchive.Limits SMALL = new DatasetArchive.Limits(10, 1 << 20, 4 << 20, 100);

    @TempDir
    Path dir;

    private Path zip(Map<String, byte[]> entries) throws IOException {
        Path file = dir.resolve("upload.zip");
        try (ZipOutputStream out = new ZipOutputStream(Files.newOutputStream(file))) {
            for (Map.Entry<String, byte[]> e : entries.entrySet()) {
                out.putNextEntry(new ZipEntry(e.getKey()));
                out.write(e.getValue());
                out.closeEntry();
            }
        }
        return file;
    }

    private static Map<String, byte[]> entries(Object... nameThenBytes) {
        Map<String, byte[]> m = new LinkedHashMap<>();
        for (int i = 0; i < nameThenBytes.length; i += 2)
            m.put((String) nameThenBytes[i], nameThenBytes[i + 1] instanceof String s ? s.getBytes(StandardCharsets.UTF_8)
                    : (byte[]) nameThenBytes[i + 1]);
        return m;
    }

    /** Every file under dir other than the archives and what is under dest (so: what escaped). */
    private List<Path> strayFiles(Path dest) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(Files::isRegularFile).filter(p -> !p.startsWith(dest))
                    .filter(p -> !p.getFileName().toString().startsWith("upload")).toList();
        }
    }

    @Test
    void aZipIsExtractedWithItsDirectories() throws IOException {
        Path archive = zip(entries("ds/", new byte[0], "ds/images/a.png", "png bytes", "ds/images/a.txt", "a caption",
                "ds/dataset.toml", "[general]\n"));
        Path dest = dir.resolve("dest");
        DatasetArchive.Extracted x = DatasetArchive.extract(archive, dest, SMALL);
        assertThat(x.files()).isEqualTo(3);
        assertThat(x.bytes()).isEqualTo(9 + 9 + 10);
        assertThat(x.directory()).isEqualTo(dest.toRealPath());
        assertThat(Files.readString(dest.resolve("ds/images/a.txt"))).isEqualTo("a caption");
        assertThat(Files.readString(dest.resolve("ds/dataset.toml"))).isEqualTo("[general]\n");
    }

    private void assertRefused(Path archive, DatasetArchive.Limits limits, String entry, String... messageParts) throws IOException {
        Path dest = dir.resolve("dest");
        assertThatThrownBy(() -> DatasetArchive.extract(archive, dest, limits))
                .isInstanceOfSatisfying(DatasetArchiveException.class, e -> assertThat(e.entry()).isEqualTo(entry))
                .message().contains(messageParts);
        assertThat(dest).doesNotExist();   // created by the call, removed with everything in it
        assertThat(strayFiles(dest)).isEmpty();
    }

    @Test
    void traversalAbsoluteAndDriveLetterNamesAreRefusedBeforeAnythingIsWritten() throws IOException {
        assertRefused(zip(entries("ok.txt", "fine", "../evil", "escaped")), SMALL, "../evil", "'..'");
        assertRefused(zip(entries("ok.txt", "fine", "a/../../evil", "escaped")), SMALL, "a/../../evil", "'..'");
        assertRefused(zip(entries("a\\..\\..\\evil", "escaped")), SMALL, "a\\..\\..\\evil", "'..'");
        assertRefused(zip(entries("/abs", "escaped")), SMALL, "/abs", "absolute");
        assertRefused(zip(entries("C:/evil", "escaped")), SMALL, "C:/evil", "drive letter");
        assertThat(dir.getParent().resolve("evil")).doesNotExist();
    }

    @Test
    void aZipBombIsStoppedAtTheEntryLimitAndByItsRatio() throws IOException {
        byte[] zeros = new byte[10 << 20];
        assertRefused(zip(entries("captions/a.txt", "x", "zeros.bin", zeros)), SMALL, "zeros.bin", "1048576 bytes", "extraction stopped");
        // with room for the bytes, the 1000:1 ratio gives it away
        DatasetArchive.Limits roomy = new DatasetArchive.Limits(10, 100L << 20, 100L << 20, 100);
        assertRefused(zip(entries("zeros.bin", zeros)), roomy, "zeros.bin", "zip bomb");
        // a total over the limit, spread over files each under it
        byte[] noise = new byte[900 << 10];
        new java.util.Random(1).nextBytes(noise);
        Map<String, byte[]> many = new LinkedHashMap<>();
        for (int i = 0; i < 5; i++) many.put("f" + i, noise);
        assertRefused(zip(many), SMALL, "f4", "4194304 bytes");
    }

    @Test
    void declaredSizesAreNotTrusted() throws IOException {
        Path archive = zip(entries("zeros.bin", new byte[10 << 20]));
        patchCentral(archive, "zeros.bin", buf -> buf.putInt(24, 100));   // claims 100 bytes uncompressed
        DatasetArchive.Limits roomy = new DatasetArchive.Limits(10, 2 << 20, 100L << 20, 10_000);
        assertRefused(archive, roomy, "zeros.bin", "2097152 bytes");
    }

    @Test
    void tooManyEntriesAreRefusedUpFront() throws IOException {
        Map<String, byte[]> eleven = new LinkedHashMap<>();
        for (int i = 0; i < 11; i++) eleven.put("f" + i + ".txt", "x".getBytes());
        Path dest = dir.resolve("dest");
        assertThatThrownBy(() -> DatasetArchive.extract(zip(eleven), dest, SMALL)).isInstanceOf(DatasetArchiveException.class)
                .hasMessageContaining("11 entries, more than the limit of 10");
        assertThat(dest).doesNotExist();
    }

    @Test
    void symlinkEntriesAreRefused() throws IOException {
        Path archive = zip(entries("ok.txt", "fine", "link", "/etc/passwd"));
        patchCentral(archive, "link", buf -> {
            buf.putShort(4, (short) (3 << 8 | 30));          // made by Unix
            buf.putInt(38, 0120777 << 16);                  // S_IFLNK | 0777
        });
        assertRefused(archive, SMALL, "link", "symbolic link");
    }

    @Test
    void aNonEmptyDestinationIsRefusedAndLeftAlone() throws IOException {
        Path dest = Files.createDirectories(dir.resolve("dest"));
        Files.writeString(dest.resolve("keep.txt"), "mine");
        assertThatThrownBy(() -> DatasetArchive.extract(zip(entries("a.txt", "a")), dest, SMALL))
                .hasMessageContaining("not empty");
        assertThat(Files.readString(dest.resolve("keep.txt"))).isEqualTo("mine");
    }

    @Test
    void anExistingEmptyDestinationIsKeptButEmptiedOnFailure() throws IOException {
        Path dest = Files.createDirectories(dir.resolve("dest"));
        assertThatThrownBy(() -> DatasetArchive.extract(zip(entries("a.txt", "a", "b.bin", new byte[10 << 20])), dest, SMALL))
                .isInstanceOf(DatasetArchiveException.class);
        assertThat(dest).isEmptyDirectory();
    }

    @Test
    void garbageIsNotAnArchive() throws IOException {
        Path file = dir.resolve("upload.zip");
        Files.writeString(file, "this is not an archive at all");
        assertThatThrownBy(() -> DatasetArchive.extract(file, dir.resolve("dest"), SMALL)).hasMessageContaining("not a zip, tar or tar.gz");
        // a zip cut in half
        Path cut = zip(entries("a.txt", "a".repeat(5000), "b.txt", "b".repeat(5000)));
        byte[] bytes = Files.readAllBytes(cut);
        Files.write(cut, java.util.Arrays.copyOf(bytes, bytes.length / 2));
        assertThatThrownBy(() -> DatasetArchive.extract(cut, dir.resolve("dest"), SMALL)).isInstanceOf(DatasetArchiveException.class)
                .hasMessageContaining("damaged zip");
        assertThat(dir.resolve("dest")).doesNotExist();
    }

    // ---- tar ----

    /** A minimal ustar writer: (name, type, bytes) triples. */
    private static byte[] tar(Object... nameTypeBytes) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 0; i < nameTypeBytes.length; i += 3) {
            String name = (String) nameTypeBytes[i];
            char type = (Character) nameTypeBytes[i + 1];
            byte[] data = nameTypeBytes[i + 2] instanceof String s ? s.getBytes(StandardCharsets.UTF_8) : (byte[]) nameTypeBytes[i + 2];
            byte[] h = new byte[512];
            put(h, 0, name);
            put(h, 100, "0000644");
            put(h, 108, "0000000");
            put(h, 116, "0000000");
            put(h, 124, String.format("%011o", type == '0' ? data.length : 0));
            put(h, 136, "00000000000");
            h[156] = (byte) type;
            if (type == '2') put(h, 157, new String(data, StandardCharsets.UTF_8));
            put(h, 257, "ustar");
            put(h, 263, "00");
            java.util.Arrays.fill(h, 148, 156, (byte) ' ');
            long sum = 0;
            for (byte b : h) sum += b & 0xff;
            put(h, 148, String.format("%06o", sum));
            h[154] = 0;
            out.write(h);
            if (type == '0') {
                out.write(data);
                out.write(new byte[(512 - data.length % 512) % 512]);
            }
        }
        out.write(new byte[1024]);
        return out.toByteArray();
    }

    private static void put(byte[] h, int off, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        System.arraycopy(b, 0, h, off, b.length);
    }

    private Path write(String name, byte[] bytes, boolean gzip) throws IOException {
        Path file = dir.resolve(name);
        try (OutputStream out = gzip ? new GZIPOutputStream(Files.newOutputStream(file)) : Files.newOutputStream(file)) {
            out.write(bytes);
        }
        return file;
    }

    @Test
    void tarAndTarGzAreExtracted() throws IOException {
        byte[] tar = tar("ds/", '5', "", "ds/a.txt", '0', "a caption", "ds/big.bin", '0', new byte[3000]);
        DatasetArchive.Extracted plain = DatasetArchive.extract(write("upload.tar", tar, false), dir.resolve("t1"), SMALL);
        DatasetArchive.Extracted gz = DatasetArchive.extract(write("upload.tgz", tar, true), dir.resolve("t2"), SMALL);
        for (DatasetArchive.Extracted x : List.of(plain, gz)) {
            assertThat(x.files()).isEqualTo(2);
            assertThat(Files.readString(x.directory().resolve("ds/a.txt"))).isEqualTo("a caption");
            assertThat(Files.size(x.directory().resolve("ds/big.bin"))).isEqualTo(3000);
        }
    }

    @Test
    void tarRefusalsMatchZips() throws IOException {
        assertRefused(write("upload.tar", tar("ok.txt", '0', "ok", "../evil", '0', "escaped"), false), SMALL, "../evil", "'..'");
        assertRefused(write("upload.tar", tar("ok.txt", '0', "ok", "link", '2', "/etc/passwd"), false), SMALL, "link", "symbolic link");
        assertRefused(write("upload.tgz", tar("/abs", '0', "x"), true), SMALL, "/abs", "absolute");
        DatasetArchive.Limits roomy = new DatasetArchive.Limits(10, 100L << 20, 100L << 20, 100);
        assertRefused(write("upload.tgz", tar("zeros.bin", '0', new byte[10 << 20]), true), roomy, "zeros.bin", "zip bomb");
        assertRefused(write("upload.tgz", tar("zeros.bin", '0', new byte[10 << 20]), true), SMALL, "zeros.bin", "1048576 bytes");
    }

    /** Rewrites the central-directory record of one entry (fields at their offsets from the record's signature). */
    private static void patchCentral(Path zip, String name, java.util.function.Consumer<ByteBuffer> patch) throws IOException {
        byte[] bytes = Files.readAllBytes(zip);
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        for (int p = 0; p + 46 + n.length <= bytes.length; p++) {
            ByteBuffer b = ByteBuffer.wrap(bytes, p, bytes.length - p).slice().order(ByteOrder.LITTLE_ENDIAN);
            if (b.getInt(0) == 0x02014b50 && (b.getShort(28) & 0xffff) == n.length
                    && java.util.Arrays.equals(bytes, p + 46, p + 46 + n.length, n, 0, n.length)) {
                patch.accept(b);
                Files.write(zip, bytes);
                return;
            }
        }
        throw new AssertionError("no central record for " + name);
    }
}
