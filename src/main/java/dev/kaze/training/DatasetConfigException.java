package dev.kaze.training;

import java.nio.file.Path;

/**
 * A dataset config that cannot be used. The message names the file, the {@code [[datasets]]} table (0-based index,
 * as musubi-tuner counts them; absent for {@code [general]} and top-level problems) and the key.
 */
public final class DatasetConfigException extends RuntimeException {
    private final Path file;
    private final Integer datasetIndex;
    private final String key;

    public DatasetConfigException(Path file, Integer datasetIndex, String key, String problem) {
        this(file, datasetIndex, key, problem, null);
    }

    public DatasetConfigException(Path file, Integer datasetIndex, String key, String problem, Throwable cause) {
        super(file + ": " + where(datasetIndex, key) + problem, cause);
        this.file = file;
        this.datasetIndex = datasetIndex;
        this.key = key;
    }

    private static String where(Integer datasetIndex, String key) {
        String table = datasetIndex == null ? (key == null ? "" : "[general] ") : "datasets[" + datasetIndex + "] ";
        return key == null ? table : table + "key '" + key + "': ";
    }

    public Path file() {
        return file;
    }

    /** The 0-based index of the {@code [[datasets]]} table, or null for {@code [general]} and the top level. */
    public Integer datasetIndex() {
        return datasetIndex;
    }

    /** The offending key, or null when the problem is not one key's. */
    public String key() {
        return key;
    }
}
