package dev.kaze.training;

import dev.kaze.pipeline.InvalidFieldException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * Where a training's dataset lies: its directory, and the root that every path of its config must
 * stay inside (the datasets root for a dataset named by directory; the unpacked upload itself for an
 * uploaded one). Problems are reported under the request field {@code dataset}.
 *
 * @param dir      the dataset's directory (real path): relative paths in its config resolve against it
 * @param root     every directory the config names must stay inside this one (real path)
 * @param uploaded the dataset was uploaded for one job (and is deleted with it)
 */
public record DatasetLocation(Path dir, Path root, boolean uploaded) {
    private static final String FIELD = "dataset";

    /**
     * A directory named relative to the datasets root. Refused when the server has no datasets root,
     * when the name is absolute, and when it does not lead (links resolved) to a directory under the root.
     */
    public static DatasetLocation named(Path datasetsRoot, String name) throws IOException {
        Path root = datasetsRoot.toAbsolutePath().normalize();
        if (!Files.isDirectory(root))
            throw new InvalidFieldException(FIELD, "this server has no datasets root (kaze.training.datasets-root); "
                    + "upload the dataset as a zip, or ask the operator to set it");
        root = root.toRealPath();
        Path named;
        try {
            named = Path.of(name);
        } catch (InvalidPathException e) {
            throw notUnder(name);
        }
        if (named.isAbsolute() || name.contains("\\"))
            throw new InvalidFieldException(FIELD, "must be a directory relative to the datasets root, not an absolute path");
        Path dir = root.resolve(named).normalize();
        if (!dir.startsWith(root) || !Files.isDirectory(dir) || !dir.toRealPath().startsWith(root)) throw notUnder(name);
        return new DatasetLocation(dir.toRealPath(), root, false);
    }

    /**
     * A dataset unpacked from an upload: its own root. A zip made of the dataset's folder
     * ({@code zip -r ghibli.zip ghibli}) unpacks to that one folder: when the top level holds no
     * config and nothing but one folder (macOS' {@code __MACOSX} and dot files aside), the dataset is
     * that folder; its paths still resolve inside the upload.
     */
    public static DatasetLocation uploaded(Path dir) throws IOException {
        Path real = dir.toRealPath();
        return new DatasetLocation(soleFolder(real), real, true);
    }

    /** The one folder a dataset was zipped in, or dir itself when its top level holds a config, files or several folders. */
    static Path soleFolder(Path dir) throws IOException {
        if (Files.exists(dir.resolve("dataset.toml")) || Files.exists(dir.resolve("dataset.json"))) return dir;
        List<Path> entries;
        try (Stream<Path> s = Files.list(dir)) {
            entries = s.filter(p -> {
                String name = p.getFileName().toString();
                return !name.startsWith(".") && !name.equals("__MACOSX");
            }).toList();
        }
        if (entries.size() != 1 || !Files.isDirectory(entries.getFirst(), LinkOption.NOFOLLOW_LINKS)) return dir;
        return entries.getFirst().toRealPath();
    }

    /** The config at the dataset's top level: {@code dataset.toml}, else {@code dataset.json}; refused when neither is there. */
    public DatasetConfigText findConfig() throws IOException { return DatasetConfigText.find(dir); }

    private static InvalidFieldException notUnder(String name) {
        String shown = name.length() <= 100 ? name : name.substring(0, Character.isHighSurrogate(name.charAt(99)) ? 99 : 100) + "…";
        return new InvalidFieldException(FIELD, "'" + shown + "' is not a directory under the datasets root");
    }
}
