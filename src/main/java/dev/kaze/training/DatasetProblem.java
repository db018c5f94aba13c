package dev.kaze.training;

import java.nio.file.Path;

/**
 * One thing wrong with a dataset, found before anything is encoded.
 *
 * @param dataset the 0-based {@code [[datasets]]} index, or null when the problem is not one dataset's
 * @param key     the config key the problem belongs to ({@code image_directory}, {@code video_jsonl_file},
 *                {@code caption_extension}, ...), or null
 * @param file    the file or directory concerned, or null
 * @param message what is wrong and what to do, without the location (that is in the other fields)
 */
public record DatasetProblem(Integer dataset, String key, Path file, String message) {
    public DatasetProblem {
        if (message == null || message.isBlank()) throw new IllegalArgumentException("a problem needs a message");
    }

    /** A JSON-pointer-like location for an HTTP problem's {@code errors}: {@code datasets[1].video_directory}. */
    public String pointer() {
        String table = dataset == null ? "" : "datasets[" + dataset + "]";
        if (key == null) return table;
        return table.isEmpty() ? key : table + "." + key;
    }

    /** One line: location, file, message. */
    public String describe() {
        String where = pointer();
        StringBuilder sb = new StringBuilder();
        if (!where.isEmpty()) sb.append(where).append(": ");
        if (file != null) sb.append(file).append(": ");
        return sb.append(message).toString();
    }
}
