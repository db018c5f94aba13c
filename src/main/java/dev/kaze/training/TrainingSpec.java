package dev.kaze.training;

import dev.kaze.json.Json;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

import java.nio.file.Path;
import java.util.Objects;

/**
 * A training job as the device worker runs it: where the dataset is, the dataset config exactly as
 * the caller sent it (musubi-tuner's TOML, or its JSON equivalent), the training arguments under
 * musubi's names, and what to do with the result. Stored as the job's resolved JSON.
 *
 * @param datasetDir          the dataset's directory: relative paths in the config resolve against it
 * @param datasetRoot         every directory the config names must stay inside this one
 * @param uploaded            the dataset was uploaded as an archive for this job (deleted with the job)
 * @param configName          the config's file name, {@code dataset.toml} or {@code dataset.json}
 * @param configText          the config's text
 * @param args                the training arguments (network_dim, learning_rate, max_train_steps, ...)
 * @param loraName            the LoRA catalog name the finished LoRA is registered under
 * @param registerCheckpoints register every saved checkpoint in the catalog too ({@code <lora_name>-step00000010})
 * @param resumeFrom          the training job whose saved state this one continues, or null
 * @param datasetKey          where the dataset root's files are kept in the shared file store ({@code datasets/<token>}: its
 *                            files are {@code datasets/<token>/<path under the root>}), so a worker on another machine can
 *                            fetch them; null when the dataset is a local directory (named under the datasets root, or an
 *                            upload kept on the server's disk)
 */
public record TrainingSpec(Path datasetDir, Path datasetRoot, boolean uploaded, String configName, String configText,
                           JsonNode args, String loraName, boolean registerCheckpoints, String resumeFrom, String datasetKey) {
    public TrainingSpec {
        Objects.requireNonNull(datasetDir, "datasetDir");
        Objects.requireNonNull(datasetRoot, "datasetRoot");
        Objects.requireNonNull(configText, "configText");
        Objects.requireNonNull(args, "args");
        Objects.requireNonNull(loraName, "loraName");
        if (!configName.equals("dataset.toml") && !configName.equals("dataset.json"))
            throw new IllegalArgumentException("configName must be dataset.toml or dataset.json, got " + configName);
        if (datasetKey != null && (datasetKey.isBlank() || datasetKey.startsWith("/") || datasetKey.endsWith("/")))
            throw new IllegalArgumentException("datasetKey must be a store key prefix without a leading or trailing /, got '" + datasetKey + "'");
        if (datasetKey != null && !datasetDir.normalize().startsWith(datasetRoot.normalize()))
            throw new IllegalArgumentException("a stored dataset's directory must lie under its root: " + datasetDir + " is not under " + datasetRoot);
    }

    /** A new run over a located dataset with its config. */
    public static TrainingSpec of(DatasetLocation dataset, DatasetConfigText config, JsonNode args, String loraName,
                                  boolean registerCheckpoints) {
        return new TrainingSpec(dataset.dir(), dataset.root(), dataset.uploaded(), config.name(), config.text(), args, loraName,
                registerCheckpoints, null, null);
    }

    public boolean toml() { return configName.endsWith(".toml"); }

    /** Parses and validates the config, resolving relative paths against the dataset directory. */
    public DatasetConfig config() {
        return DatasetConfigReader.parse(datasetDir.resolve(configName), configText, toml());
    }

    /**
     * Checks the dataset: the config, every path it names inside the root, every media file and caption.
     * Returns the training samples of one epoch (items times num_repeats over the datasets not held out for validation).
     *
     * @throws DatasetConfigException naming the dataset and key of a bad config entry or a path outside the root
     * @throws DatasetCheckException  listing every unreadable media file and missing caption
     * @throws DatasetMediaException  when a media directory or listing cannot be read
     */
    public int checkDataset() {
        DatasetConfig config = config();
        DatasetPaths.confine(config, datasetRoot);
        return TrainingData.check(config).trainingSamples();
    }

    /**
     * Text for a client: the dataset's directory and root (the server's paths) taken out, so files are named
     * relative to the dataset ({@code images/a.png}); a path outside both is shown by its file name only.
     */
    public String clientText(String text) {
        String out = text;
        for (Path p : new Path[]{datasetDir, datasetDir.toAbsolutePath(), datasetRoot, datasetRoot.toAbsolutePath()}) {
            String s = p.toString();
            if (s.isEmpty() || s.equals("/")) continue;
            out = out.replace(s + "/", "").replace(s, ".");
        }
        return out;
    }

    /** The same spec continuing another job's run (over the same dataset, which stays the first job's). */
    public TrainingSpec resuming(String jobId) {
        return new TrainingSpec(datasetDir, datasetRoot, false, configName, configText, args, loraName, registerCheckpoints, jobId, datasetKey);
    }

    /** The same spec with the dataset root's files kept in the file store under key ({@code datasets/<token>}). */
    public TrainingSpec storedAt(String key) {
        return new TrainingSpec(datasetDir, datasetRoot, uploaded, configName, configText, args, loraName, registerCheckpoints, resumeFrom, key);
    }

    /**
     * The same spec over a copy of the dataset root at root (a worker's local copy of a stored dataset): the dataset's
     * directory keeps its place under the root.
     */
    public TrainingSpec at(Path root) {
        Path dir = root.resolve(datasetRoot.relativize(datasetDir).toString());
        return new TrainingSpec(dir, root, uploaded, configName, configText, args, loraName, registerCheckpoints, resumeFrom, datasetKey);
    }

    public ObjectNode toJson() {
        ObjectNode n = Json.MAPPER.createObjectNode();
        n.put("dataset_dir", datasetDir.toString());
        n.put("dataset_root", datasetRoot.toString());
        n.put("uploaded", uploaded);
        n.put("config_name", configName);
        n.put("config_text", configText);
        n.set("args", args);
        n.put("lora_name", loraName);
        n.put("register_checkpoints", registerCheckpoints);
        if (resumeFrom != null) n.put("resume_from", resumeFrom); else n.putNull("resume_from");
        if (datasetKey != null) n.put("dataset_key", datasetKey);
        return n;
    }

    public static TrainingSpec fromJson(String json) {
        JsonNode n = Json.MAPPER.readTree(json);
        JsonNode resume = n.get("resume_from"), key = n.get("dataset_key");
        return new TrainingSpec(Path.of(n.get("dataset_dir").asString()), Path.of(n.get("dataset_root").asString()),
                n.path("uploaded").asBoolean(false), n.get("config_name").asString(), n.get("config_text").asString(),
                n.get("args"), n.get("lora_name").asString(), n.path("register_checkpoints").asBoolean(false),
                resume == null || resume.isNull() ? null : resume.asString(), key == null || key.isNull() ? null : key.asString());
    }
}
