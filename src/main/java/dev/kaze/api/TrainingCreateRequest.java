package dev.kaze.api;

import dev.kaze.jobs.JobKind;
import dev.kaze.jobs.JobEventType;
import dev.kaze.json.Json;
import dev.kaze.pipeline.GenerateRequest;
import dev.kaze.pipeline.LoraCatalog;
import dev.kaze.training.DatasetCheckException;
import dev.kaze.training.DatasetConfigException;
import dev.kaze.training.DatasetConfigText;
import dev.kaze.training.DatasetLocation;
import dev.kaze.training.DatasetMediaException;
import dev.kaze.training.TrainingArgs;
import dev.kaze.training.TrainingArgsException;
import dev.kaze.training.TrainingSpec;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * The body of {@code POST /v1/trainings}, checked before anything is queued: a JSON object naming a
 * dataset directory under the datasets root, or a multipart upload with the dataset as a zip; the
 * dataset config (TOML text or a JSON object; else the dataset's own dataset.toml or dataset.json);
 * the musubi-tuner arguments; the LoRA name, priority, webhook and metadata. Then the dataset
 * itself (config, paths, media, captions) and the arguments against its size. Every problem is a 400
 * naming its field ({@code args.network_dim}, {@code dataset_config.datasets[1].bogus_key}).
 *
 * @param spec    the training as the worker runs it
 * @param dataset the dataset as the caller named it ({@code upload} for an upload)
 */
record TrainingCreateRequest(TrainingSpec spec, String dataset, int priority, String webhookJson, String metadataJson) {
    static final Set<String> FIELDS = Set.of("dataset", "dataset_config", "args", "lora_name", "register_checkpoints",
            "priority", "webhook", "metadata");
    private static final Set<String> WEBHOOK_EVENTS = new LinkedHashSet<>(JobEventType.webhookNames(JobKind.TRAINING));

    /** What a create request carried, before checking; config: TOML text (a string) or a JSON object, null to look in the dataset. */
    private record Fields(JsonNode config, String configFileName, JsonNode args, String loraName, JsonNode registerCheckpoints,
                          JsonNode priority, JsonNode webhook, JsonNode metadata) {}

    /** From a JSON body naming a directory under the datasets root (blocking: the dataset is checked on disk). */
    static TrainingCreateRequest fromJson(JsonNode body, Path datasetsRoot, LoraCatalog loras) throws IOException {
        if (!body.isObject()) throw ValidationException.of("body", "must be a JSON object");
        List<FieldError> errors = unknown(body.propertyNames());
        JsonNode dataset = body.get("dataset");
        if (dataset == null || !dataset.isString() || dataset.asString().isBlank())
            errors.add(new FieldError("dataset", "required: a directory under the datasets root (upload a zip as multipart/form-data instead)"));
        if (!errors.isEmpty()) throw new ValidationException(errors);
        DatasetLocation location = DatasetLocation.named(datasetsRoot, dataset.asString());
        return check(location, dataset.asString(), new Fields(body.get("dataset_config"), null, body.get("args"), JsonBodies.text(body.get("lora_name")),
                body.get("register_checkpoints"), body.get("priority"), body.get("webhook"), body.get("metadata")), loras);
    }

    /** From a multipart upload (blocking: the zip is unpacked and the dataset checked on disk); the form fields that are objects carry JSON. */
    static TrainingCreateRequest fromUpload(MultipartForm.Received form, TrainingUpload upload, TrainingDatasets datasets,
                                            LoraCatalog loras) throws IOException {
        if (!form.hasFile("dataset")) throw ValidationException.of("dataset", "required: the dataset as a zip file part named 'dataset'");
        List<FieldError> errors = unknown(form.fields().keySet());
        if (form.fields().containsKey("dataset")) errors.add(new FieldError("dataset", "must be a zip file part, not a text field"));
        if (!errors.isEmpty()) throw new ValidationException(errors);
        upload.unpack(datasets.archiveLimits());
        JsonNode config = null;
        String configName = null;
        if (form.hasFile("dataset_config")) {
            config = Json.MAPPER.getNodeFactory().stringNode(upload.configText());
            configName = form.fileNames().get("dataset_config");
        } else if (form.fields().containsKey("dataset_config")) config = Json.MAPPER.getNodeFactory().stringNode(form.fields().get("dataset_config"));
        var f = form.fields();
        Fields fields = new Fields(config, configName, JsonBodies.field("args", f.get("args")), f.get("lora_name"),
                JsonBodies.field("register_checkpoints", f.get("register_checkpoints")), JsonBodies.field("priority", f.get("priority")),
                JsonBodies.field("webhook", f.get("webhook")), JsonBodies.field("metadata", f.get("metadata")));
        return check(DatasetLocation.uploaded(upload.dir()), "upload", fields, loras);
    }

    /** The same request with the dataset kept in the file store under key ({@code datasets/<token>}). */
    TrainingCreateRequest storedAt(String key) {
        return new TrainingCreateRequest(spec.storedAt(key), dataset, priority, webhookJson, metadataJson);
    }

    /** The request as recorded with the job: the dataset as named, the LoRA name, the arguments as sent. */
    String requestJson() {
        return Json.MAPPER.createObjectNode().put("dataset", dataset).put("lora_name", spec.loraName()).set("args", spec.args()).toString();
    }

    private static List<FieldError> unknown(Iterable<String> names) {
        List<FieldError> errors = new ArrayList<>();
        for (String k : names) if (!FIELDS.contains(k)) errors.add(new FieldError(k, "unknown field; known: " + new TreeSet<>(FIELDS)));
        return errors;
    }


    /** Checks everything (config, fields, the dataset on disk, the arguments against it), in that order. */
    private static TrainingCreateRequest check(DatasetLocation location, String dataset, Fields s, LoraCatalog loras) throws IOException {
        DatasetConfigText config = config(s, location);
        List<FieldError> errors = new ArrayList<>();
        JsonNode args = s.args() == null ? Json.MAPPER.createObjectNode() : s.args();
        if (!args.isObject()) errors.add(new FieldError("args", "must be a JSON object of musubi-tuner training arguments"));
        String loraName = s.loraName() != null ? s.loraName() : args.path("output_name").asString("lora");
        if (args.isObject() && !args.hasNonNull("output_name") && GenerateRequest.LoraRef.isCatalogName(loraName))
            args = ((ObjectNode) args.deepCopy()).put("output_name", loraName);   // the files and the LoRA's title are named after it
        if (!GenerateRequest.LoraRef.isCatalogName(loraName))
            errors.add(new FieldError("lora_name", "'" + FieldError.clip(loraName, 80) + "' is not a LoRA name: use letters, digits, '.', '_' and '-'"));
        else if (loras.has(loraName))
            errors.add(new FieldError("lora_name", "a LoRA named '" + loraName + "' already exists; choose another name or delete it first"));
        boolean registerCheckpoints = false;
        if (s.registerCheckpoints() != null && !s.registerCheckpoints().isNull()) {
            if (!s.registerCheckpoints().isBoolean()) errors.add(new FieldError("register_checkpoints", "must be true or false"));
            else registerCheckpoints = s.registerCheckpoints().asBoolean();
        }
        int priority = 0;
        if (s.priority() != null && !s.priority().isNull()) {
            if (!s.priority().isIntegralNumber() || s.priority().asInt() < -10 || s.priority().asInt() > 10)
                errors.add(new FieldError("priority", "must be an integer from -10 to 10"));
            else priority = s.priority().asInt();
        }
        String webhookJson = VideoCreateRequest.webhook(s.webhook(), WEBHOOK_EVENTS, errors);
        String metadataJson = VideoCreateRequest.metadata(s.metadata(), errors);
        if (!errors.isEmpty()) throw new ValidationException(errors);
        TrainingSpec spec = TrainingSpec.of(location, config, args, loraName, registerCheckpoints);
        int samples = checkDataset(spec);
        TrainingArgs parsed;
        try {
            parsed = TrainingArgs.fromJson(args);
            parsed.totalSteps(Math.max(1, samples));
        } catch (TrainingArgsException e) {
            throw ValidationException.of(e, "args.");
        }
        if (parsed.validates() && spec.config().validation().isEmpty())
            throw ValidationException.of(parsed.validateEveryNSteps() > 0 ? "args.validate_every_n_steps" : "args.validate_every_n_epochs",
                    "needs a validation dataset: mark a [[datasets]] table of held-out media with validation = true in the dataset config");
        return new TrainingCreateRequest(spec, dataset, priority, webhookJson, metadataJson);
    }

    /** The dataset config as sent (TOML text or a JSON object), else dataset.toml / dataset.json in the dataset. */
    private static DatasetConfigText config(Fields s, DatasetLocation location) throws IOException {
        JsonNode config = s.config();
        if (config == null || config.isNull()) return location.findConfig();
        if (config.isObject()) return DatasetConfigText.json(config.toString());
        if (config.isString()) return DatasetConfigText.sent(config.asString(), s.configFileName());
        throw ValidationException.of("dataset_config", "must be the TOML text or a JSON object");
    }

    /** The samples of one epoch; a bad config, path, media file or caption is a 400 naming the key or file. */
    private static int checkDataset(TrainingSpec spec) {
        try {
            return spec.checkDataset();
        } catch (DatasetConfigException e) {
            throw ValidationException.of(configField(e), relative(e.getMessage(), spec));
        } catch (DatasetCheckException e) {
            // a problem with a directory or listing the config names (it is missing, empty) is the config key's;
            // one with a media file or caption in it is the dataset's
            throw new ValidationException(e.problems().stream().map(p -> new FieldError(
                    p.key() != null && (p.file() == null || !Files.isRegularFile(p.file())) ? "dataset_config." + p.pointer() : "dataset",
                    relative(p.describe(), spec))).toList());
        } catch (DatasetMediaException e) {
            throw ValidationException.of("dataset", relative(e.getMessage(), spec));
        }
    }

    private static String configField(DatasetConfigException e) {
        String f = "dataset_config";
        if (e.datasetIndex() != null) f += ".datasets[" + e.datasetIndex() + "]";
        if (e.key() != null) f += (e.datasetIndex() == null ? ".general." : ".") + e.key();
        return f;
    }

    /** Messages name files relative to the dataset (or its root), not by the server's paths. */
    private static String relative(String message, TrainingSpec spec) {
        return ProblemWriter.clean(spec.clientText(String.valueOf(message)));
    }
}
