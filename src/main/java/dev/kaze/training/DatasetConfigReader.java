// Port of musubi-tuner dataset/config_utils.py, load_user_config, ConfigSanitizer and BlueprintGenerator fallbacks
package dev.kaze.training;

import dev.kaze.json.Json;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.node.ObjectNode;
import tools.jackson.dataformat.toml.TomlMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Reads musubi-tuner's dataset config, {@code .toml} or {@code .json} with the same structure, and validates it the
 * way musubi's voluptuous schema does: unknown keys are rejected, types are strict (a float where an int is expected
 * fails, and {@code source_fps = 30} fails: it must be {@code 30.0}). Relative paths are resolved against the config
 * file's directory.
 */
public final class DatasetConfigReader {
    private static final ObjectMapper TOML = new TomlMapper();

    private static final Set<String> ASCENDABLE = Set.of("resolution", "caption_extension", "batch_size", "num_repeats",
            "enable_bucket", "bucket_no_upscale");
    private static final Set<String> IMAGE_KEYS = Set.of("image_directory", "image_jsonl_file", "cache_directory",
            "control_directory", "multiple_target", "fp_latent_window_size", "fp_1f_clean_indices",
            "fp_1f_target_index", "fp_1f_no_post", "no_resize_control", "control_resolution");
    private static final Set<String> VIDEO_KEYS = Set.of("video_directory", "video_jsonl_file", "cache_directory",
            "target_frames", "frame_extraction", "frame_stride", "frame_sample", "max_frames", "source_fps",
            "control_directory", "fp_latent_window_size");
    /** Deprecated names musubi-tuner renames on load. */
    private static final Map<String, String> RENAMED = Map.of(
            "flux_kontext_no_resize_control", "no_resize_control",
            "qwen_image_edit_no_resize_control", "no_resize_control",
            "qwen_image_edit_control_resolution", "control_resolution");

    private DatasetConfigReader() {
    }

    /** Reads and validates {@code file}; throws {@link DatasetConfigException} naming the file, dataset and key. */
    public static DatasetConfig read(Path file) {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        ObjectMapper mapper;
        if (name.endsWith(".toml")) mapper = TOML;
        else if (name.endsWith(".json")) mapper = Json.MAPPER;
        else throw new DatasetConfigException(file, null, null,
                    "a dataset config must be a .toml or .json file (musubi-tuner's format); rename it accordingly");
        if (!Files.isRegularFile(file))
            throw new DatasetConfigException(file, null, null, "no such dataset config file");
        String text;
        try {
            text = Files.readString(file);
        } catch (IOException e) {
            throw new DatasetConfigException(file, null, null, "cannot read the dataset config: " + e.getMessage(), e);
        }
        return parse(file, text, mapper == TOML);
    }

    /** Parses config text; {@code file} names it in errors and is the base for relative paths. */
    public static DatasetConfig parse(Path file, String text, boolean toml) {
        JsonNode root;
        try {
            root = (toml ? TOML : Json.MAPPER).readTree(text);
        } catch (JacksonException e) {
            throw new DatasetConfigException(file, null, null,
                    "not valid " + (toml ? "TOML" : "JSON") + ": " + e.getOriginalMessage(), e);
        }
        return new Validation(file).config(root);
    }

    private static final class Validation {
        private final Path file;
        private final Path base;
        private final List<String> warnings = new ArrayList<>();

        Validation(Path file) {
            this.file = file;
            Path parent = file.toAbsolutePath().getParent();
            this.base = parent == null ? Path.of("").toAbsolutePath() : parent;
        }

        DatasetConfigException error(Integer index, String key, String problem) {
            return new DatasetConfigException(file, index, key, problem);
        }

        DatasetConfig config(JsonNode root) {
            if (root == null || !root.isObject())
                throw error(null, null, "the top level must be a table with [general] and [[datasets]]");
            for (String key : root.propertyNames())
                if (!key.equals("general") && !key.equals("datasets"))
                    throw error(null, null, "unknown top-level key '" + key + "'; only [general] and [[datasets]] are allowed");
            JsonNode generalNode = root.get("general");
            Map<String, JsonNode> general = new HashMap<>();
            if (generalNode != null) {
                if (!generalNode.isObject())
                    throw error(null, "general", "must be a table ([general])");
                for (var e : generalNode.properties()) {
                    if (!ASCENDABLE.contains(e.getKey()))
                        throw error(null, e.getKey(), "unknown key in [general]; allowed there: "
                                + new TreeSet<>(ASCENDABLE) + " (cache_directory, target_frames etc. are per dataset)");
                    if (!e.getValue().isNull()) general.put(e.getKey(), e.getValue());
                }
            }
            JsonNode datasetsNode = root.get("datasets");
            if (datasetsNode == null || !datasetsNode.isArray() || datasetsNode.isEmpty())
                throw error(null, "datasets", "at least one [[datasets]] table is needed");
            List<Dataset> datasets = new ArrayList<>();
            Map<Path, Integer> caches = new HashMap<>();
            Set<Integer> validation = new HashSet<>();
            for (int i = 0; i < datasetsNode.size(); i++) {
                JsonNode node = datasetsNode.get(i);
                if (!node.isObject()) throw error(i, null, "each [[datasets]] entry must be a table");
                JsonNode held = node.get(DatasetConfig.VALIDATION_KEY);
                if (held != null && !held.isNull()) {
                    if (!held.isBoolean()) throw error(i, DatasetConfig.VALIDATION_KEY, "expected true or false, got " + describe(held));
                    if (held.booleanValue()) validation.add(i);
                    node = ((ObjectNode) node.deepCopy());
                    ((ObjectNode) node).remove(DatasetConfig.VALIDATION_KEY);
                }
                Dataset d = dataset(i, node, general);
                Integer other = caches.putIfAbsent(d.cacheDirectory().normalize(), i);
                if (other != null)
                    throw error(i, "cache_directory", "cache directory " + d.cacheDirectory() + " is also used by datasets["
                            + other + "]; each dataset needs its own cache_directory (two datasets reading the same"
                            + " media directory must set distinct ones)");
                datasets.add(d);
            }
            if (validation.size() == datasets.size())
                throw error(null, "datasets", "every dataset is marked validation = true; at least one must be trained on");
            return new DatasetConfig(file, datasets, warnings, validation);
        }

        Dataset dataset(int i, JsonNode node, Map<String, JsonNode> general) {
            Map<String, JsonNode> own = new HashMap<>();
            for (var e : node.properties()) {
                String key = RENAMED.getOrDefault(e.getKey(), e.getKey());
                if (!e.getValue().isNull()) own.put(key, e.getValue());
            }
            boolean video = own.containsKey("video_directory") || own.containsKey("video_jsonl_file");
            Set<String> distinct = video ? VIDEO_KEYS : IMAGE_KEYS;
            for (var e : node.properties()) {
                String key = RENAMED.getOrDefault(e.getKey(), e.getKey());
                if (!distinct.contains(key) && !ASCENDABLE.contains(key)) {
                    String hint = (video ? IMAGE_KEYS : VIDEO_KEYS).contains(key)
                            ? "it belongs to " + (video ? "image" : "video") + " datasets, and this one is a "
                            + (video ? "video dataset (it has video_directory/video_jsonl_file)"
                            : "an image dataset (it has no video_directory/video_jsonl_file)")
                            : "allowed keys: " + new TreeSet<>(union(distinct, ASCENDABLE));
                    throw error(i, e.getKey(), "unknown key; " + hint);
                }
            }
            DatasetParams params = params(i, own, general);
            String dirKey = video ? "video_directory" : "image_directory";
            String jsonlKey = video ? "video_jsonl_file" : "image_jsonl_file";
            Path dir = path(i, own, dirKey);
            Path jsonl = path(i, own, jsonlKey);
            if (dir == null && jsonl == null)
                throw error(i, dirKey, "missing: an image dataset needs image_directory or image_jsonl_file"
                        + " (a video dataset: video_directory or video_jsonl_file)");
            if (dir != null && jsonl != null)
                throw error(i, jsonlKey, "set either " + dirKey + " or " + jsonlKey + ", not both");
            Path cache = path(i, own, "cache_directory");
            if (cache == null) {
                if (dir == null)
                    throw error(i, "cache_directory", "required with " + jsonlKey + " (there is no media directory to default to)");
                cache = dir;
            }
            // FramePack / edit / control keys: type-checked, not used for Wan T2V
            optString(i, own, "control_directory");
            optInt(i, own, "fp_latent_window_size", 1);
            if (!video) {
                optBool(i, own, "multiple_target");
                optBool(i, own, "fp_1f_no_post");
                optBool(i, own, "no_resize_control");
                optInt(i, own, "fp_1f_target_index", Integer.MIN_VALUE);
                if (own.containsKey("fp_1f_clean_indices")) intList(i, "fp_1f_clean_indices", own.get("fp_1f_clean_indices"), Integer.MIN_VALUE);
                if (own.containsKey("control_resolution")) size(i, "control_resolution", own.get("control_resolution"));
                return new ImageDatasetConfig(i, params, dir, jsonl, cache);
            }
            return new VideoDatasetConfig(i, params, dir, jsonl, cache, frames(i, own));
        }

        DatasetParams params(int i, Map<String, JsonNode> own, Map<String, JsonNode> general) {
            Size resolution = DatasetParams.DEFAULT_RESOLUTION;
            JsonNode r = pick(own, general, "resolution");
            if (r != null) resolution = size(from(i, own, "resolution"), "resolution", r);
            String caption = null;
            JsonNode c = pick(own, general, "caption_extension");
            if (c != null) {
                if (!c.isString()) throw error(from(i, own, "caption_extension"), "caption_extension", "expected a string such as \".txt\", got " + describe(c));
                caption = c.stringValue();
            }
            int batch = intOr(i, own, general, "batch_size", 1, 1);
            int repeats = intOr(i, own, general, "num_repeats", 1, 1);
            boolean bucket = boolOr(i, own, general, "enable_bucket");
            boolean noUpscale = boolOr(i, own, general, "bucket_no_upscale");
            return new DatasetParams(resolution, caption, batch, repeats, bucket, bucket && noUpscale);
        }

        FrameSettings frames(int i, Map<String, JsonNode> own) {
            FrameSettings d = FrameSettings.defaults();
            List<Integer> targets = d.targetFrames();
            if (own.containsKey("target_frames")) {
                List<Integer> given = intList(i, "target_frames", own.get("target_frames"), 1);
                if (given.isEmpty()) throw error(i, "target_frames", "must list at least one frame count, e.g. [1, 21]");
                List<Integer> sorted = List.copyOf(new TreeSet<>(given));
                targets = FrameWindows.roundTargets(sorted);
                if (!targets.equals(sorted))
                    warnings.add(file + ": datasets[" + i + "] target_frames " + given + " rounded down to 4k+1: " + targets);
            }
            FrameExtraction mode = d.extraction();
            JsonNode m = own.get("frame_extraction");
            if (m != null) {
                if (!m.isString()) throw error(i, "frame_extraction", "expected a string, got " + describe(m));
                String name = m.stringValue();
                mode = FrameExtraction.parse(name).orElseThrow(() -> error(i, "frame_extraction",
                        "unknown mode \"" + name + "\"; use one of head, chunk, slide, uniform, full (lower case)"));
            }
            int stride = optInt(i, own, "frame_stride", 1, d.frameStride());
            int sample = optInt(i, own, "frame_sample", 1, d.frameSample());
            int maxFrames = optInt(i, own, "max_frames", 1, d.maxFrames());
            Double fps = null;
            JsonNode f = own.get("source_fps");
            if (f != null) {
                if (!f.isFloatingPointNumber())
                    throw error(i, "source_fps", "expected a decimal number such as 30.0, got " + describe(f)
                            + (f.isIntegralNumber() ? " (write it with a decimal point: " + f.asString() + ".0)" : ""));
                fps = f.doubleValue();
                if (!(fps > 0) || Double.isInfinite(fps)) throw error(i, "source_fps", "must be positive, got " + fps);
            }
            if (mode == FrameExtraction.UNIFORM && sample == 1) {
                mode = FrameExtraction.HEAD;
                warnings.add(file + ": datasets[" + i + "] frame_extraction \"uniform\" with frame_sample 1 runs as \"head\"");
            }
            return new FrameSettings(targets, mode, stride, sample, maxFrames, fps);
        }

        Size size(Integer i, String key, JsonNode n) {
            if (n.isIntegralNumber()) {
                int v = checkedInt(i, key, n, 1);
                return new Size(v, v);
            }
            if (n.isArray() && n.size() == 2) {
                List<Integer> wh = intList(i, key, n, 1);
                return new Size(wh.get(0), wh.get(1));
            }
            throw error(i, key, "expected an integer or [width, height], got " + describe(n));
        }

        List<Integer> intList(Integer i, String key, JsonNode n, int min) {
            if (!n.isArray()) throw error(i, key, "expected a list of integers such as [1, 21], got " + describe(n));
            List<Integer> out = new ArrayList<>();
            for (int k = 0; k < n.size(); k++) out.add(checkedInt(i, key + "[" + k + "]", n.get(k), min));
            return out;
        }

        int checkedInt(Integer i, String key, JsonNode n, int min) {
            if (!n.isIntegralNumber())
                throw error(i, key, "expected an integer, got " + describe(n));
            if (!n.canConvertToInt()) throw error(i, key, "integer out of range: " + n.asString());
            int v = n.intValue();
            if (v < min) throw error(i, key, "must be at least " + min + ", got " + v);
            return v;
        }

        int intOr(int i, Map<String, JsonNode> own, Map<String, JsonNode> general, String key, int min, int dflt) {
            JsonNode n = pick(own, general, key);
            return n == null ? dflt : checkedInt(from(i, own, key), key, n, min);
        }

        boolean boolOr(int i, Map<String, JsonNode> own, Map<String, JsonNode> general, String key) {
            JsonNode n = pick(own, general, key);
            if (n == null) return false;
            if (!n.isBoolean()) throw error(from(i, own, key), key, "expected true or false, got " + describe(n));
            return n.booleanValue();
        }

        int optInt(int i, Map<String, JsonNode> own, String key, int min, int dflt) {
            JsonNode n = own.get(key);
            return n == null ? dflt : checkedInt(i, key, n, min);
        }

        void optInt(int i, Map<String, JsonNode> own, String key, int min) {
            optInt(i, own, key, min, 0);
        }

        void optBool(int i, Map<String, JsonNode> own, String key) {
            JsonNode n = own.get(key);
            if (n != null && !n.isBoolean()) throw error(i, key, "expected true or false, got " + describe(n));
        }

        String optString(int i, Map<String, JsonNode> own, String key) {
            JsonNode n = own.get(key);
            if (n == null) return null;
            if (!n.isString()) throw error(i, key, "expected a string, got " + describe(n));
            return n.stringValue();
        }

        Path path(int i, Map<String, JsonNode> own, String key) {
            String s = optString(i, own, key);
            if (s == null) return null;
            if (s.isBlank()) throw error(i, key, "is empty");
            return base.resolve(s).normalize();
        }

        /** The dataset index when the key is the dataset's own, null when it came from [general]. */
        static Integer from(int i, Map<String, JsonNode> own, String key) {
            return own.containsKey(key) ? i : null;
        }

        static JsonNode pick(Map<String, JsonNode> own, Map<String, JsonNode> general, String key) {
            JsonNode n = own.get(key);
            return n != null ? n : general.get(key);
        }

        static Set<String> union(Set<String> a, Set<String> b) {
            Set<String> s = new TreeSet<>(a);
            s.addAll(b);
            return s;
        }

        static String describe(JsonNode n) {
            String type = n.isIntegralNumber() ? "integer" : n.isFloatingPointNumber() ? "float" : n.isBoolean() ? "boolean"
                    : n.isString() ? "string" : n.isArray() ? "list" : n.isObject() ? "table" : n.getNodeType().toString();
            String text = n.toString();
            if (text.length() > 60) text = text.substring(0, 57) + "...";
            return type + " " + text;
        }
    }
}
