package dev.kaze.training;

import dev.kaze.pipeline.InvalidFieldException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * A musubi-tuner dataset config as a training request sent it or as its dataset holds it: the file
 * name that says how to read it ({@code dataset.toml} or {@code dataset.json}) and its text.
 * Problems are reported under the request field {@code dataset_config}.
 */
public record DatasetConfigText(String name, String text) {
    public static final int MAX_BYTES = 256 * 1024;
    private static final String FIELD = "dataset_config";

    public DatasetConfigText {
        if (!name.equals("dataset.toml") && !name.equals("dataset.json"))
            throw new IllegalArgumentException("a dataset config is dataset.toml or dataset.json, got " + name);
        if (text.getBytes(StandardCharsets.UTF_8).length > MAX_BYTES) throw tooLarge();
    }

    /** The JSON equivalent of musubi's TOML, sent as a JSON object. */
    public static DatasetConfigText json(String text) { return new DatasetConfigText("dataset.json", text); }

    /** Text as sent: JSON when its file name (may be null) ends in .json or the text starts with '{', else TOML. */
    public static DatasetConfigText sent(String text, String fileName) {
        String given = fileName == null ? "" : fileName.toLowerCase(Locale.ROOT);
        boolean json = given.endsWith(".json") || text.stripLeading().startsWith("{");
        return new DatasetConfigText(json ? "dataset.json" : "dataset.toml", text);
    }

    /** The config at the top level of a dataset directory: {@code dataset.toml}, else {@code dataset.json}. */
    public static DatasetConfigText find(Path datasetDir) throws IOException {
        String name;
        if (Files.isRegularFile(datasetDir.resolve("dataset.toml"))) name = "dataset.toml";
        else if (Files.isRegularFile(datasetDir.resolve("dataset.json"))) name = "dataset.json";
        else throw new InvalidFieldException(FIELD, "required: send the musubi dataset config (TOML text or a JSON object), "
                    + "or put dataset.toml at the dataset's top level (or in the one folder the zip holds)");
        return new DatasetConfigText(name, Files.readString(datasetDir.resolve(name)));
    }

    /** The config is larger than {@link #MAX_BYTES}. */
    public static InvalidFieldException tooLarge() {
        return new InvalidFieldException(FIELD, "is larger than " + MAX_BYTES + " bytes");
    }
}
