package dev.kaze.training;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;

/** PLACEHOLDER until the data branch lands. */
public final class DatasetArchive {
    public record Limits(int maxEntries, long maxBytes, int maxRatio) {}

    private DatasetArchive() {}

    public static void extract(Path archive, Path dest, Limits limits) {
        try (InputStream raw = Files.newInputStream(archive); ZipInputStream zip = new ZipInputStream(raw)) {
            for (ZipEntry e; (e = zip.getNextEntry()) != null; ) {
                Path out = dest.resolve(e.getName()).normalize();
                if (!out.startsWith(dest)) throw new IllegalArgumentException("entry " + e.getName() + " escapes");
                if (e.isDirectory()) Files.createDirectories(out);
                else {
                    Files.createDirectories(out.getParent());
                    Files.copy(zip, out);
                }
            }
        } catch (IOException e) {
            throw new IllegalArgumentException("unreadable archive: " + e.getMessage(), e);
        }
    }
}
