package dev.kaze.training;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * Keeps a dataset config inside an allowed root (the server's datasets directory): the config file, every dataset's
 * image/video directory, JSONL file, cache_directory, the media a JSONL file lists, and any symbolic link inside a
 * media directory must resolve (with {@link Path#toRealPath}, so links that point out are caught) to somewhere under
 * the root's real path. A path that does not exist yet (a cache_directory before the first run) is judged by its
 * nearest existing ancestor; a dangling link is refused.
 */
public final class DatasetPaths {
    private DatasetPaths() {
    }

    /** Throws a {@link DatasetConfigException} naming the dataset index and key of the first path that leaves root. */
    public static void confine(DatasetConfig config, Path root) {
        Path realRoot;
        try {
            realRoot = root.toRealPath();
        } catch (IOException e) {
            throw new IllegalStateException("the datasets root " + root + " cannot be resolved: " + e.getMessage(), e);
        }
        if (config.source() != null && !inside(config.source(), realRoot))
            throw new DatasetConfigException(config.source(), null, null, "the dataset config is outside the datasets root");
        for (Dataset d : config.datasets()) {
            boolean video = d instanceof VideoDatasetConfig;
            String dirKey = video ? "video_directory" : "image_directory";
            String jsonlKey = video ? "video_jsonl_file" : "image_jsonl_file";
            check(config, d, dirKey, d.directory(), realRoot);
            check(config, d, jsonlKey, d.jsonlFile(), realRoot);
            check(config, d, "cache_directory", d.cacheDirectory(), realRoot);
            if (d.directory() != null && Files.isDirectory(d.directory())) {
                try (DirectoryStream<Path> s = Files.newDirectoryStream(d.directory())) {
                    for (Path p : s)
                        if (Files.isSymbolicLink(p) && !inside(p, realRoot))
                            throw escape(config, d, dirKey, p, "is a symbolic link to " + target(p) + ", outside the datasets root");
                } catch (IOException e) {
                    throw new DatasetConfigException(config.source(), d.index(), dirKey, "cannot list " + d.directory()
                            + ": " + e.getMessage(), e);
                }
            }
            if (d.jsonlFile() != null && Files.isRegularFile(d.jsonlFile())) {
                DatasetMedia.Listing listing;
                try {
                    listing = DatasetMedia.jsonl(d.jsonlFile(), video);
                } catch (DatasetMediaException e) {
                    continue;   // a broken JSONL file is the dataset check's to report
                }
                for (MediaFile f : listing.files())
                    if (!inside(f.path(), realRoot))
                        throw escape(config, d, jsonlKey, f.path(), "is listed in " + d.jsonlFile()
                                + " but is outside the datasets root");
            }
        }
    }

    private static void check(DatasetConfig config, Dataset d, String key, Path path, Path realRoot) {
        if (path != null && !inside(path, realRoot))
            throw escape(config, d, key, path, "is outside the datasets root" + (Files.isSymbolicLink(path) ? " (a link to "
                    + target(path) + ")" : "") + "; paths in the dataset config are relative to the dataset's folder (e.g. " + key
                    + " = \"" + (key.startsWith("video") ? "videos" : key.startsWith("cache") ? "cache" : "images") + "\"), not paths on the "
                    + "machine it was made on");
    }

    private static DatasetConfigException escape(DatasetConfig config, Dataset d, String key, Path path, String problem) {
        return new DatasetConfigException(config.source(), d.index(), key, path + " " + problem);
    }

    private static String target(Path link) {
        try {
            return Files.readSymbolicLink(link).toString();
        } catch (IOException | UnsupportedOperationException e) {
            return "?";
        }
    }

    /** Whether path, with every link resolved, is realRoot or under it; judged by its nearest existing ancestor. */
    static boolean inside(Path path, Path realRoot) {
        Path abs = path.toAbsolutePath().normalize();
        Path existing = abs;
        while (existing != null && !Files.exists(existing, LinkOption.NOFOLLOW_LINKS)) existing = existing.getParent();
        if (existing == null) return false;
        try {
            Path real = existing.toRealPath().resolve(existing.relativize(abs)).normalize();
            return real.startsWith(realRoot);
        } catch (NoSuchFileException e) {
            return false;   // a dangling link: where it would lead cannot be checked
        } catch (IOException e) {
            return false;
        }
    }
}
