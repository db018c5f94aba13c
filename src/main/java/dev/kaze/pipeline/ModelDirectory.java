package dev.kaze.pipeline;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Predicate;
import java.util.stream.Stream;

/**
 * Finds the files of a Wan2.1 text-to-video model in a directory laid out as the official
 * Hugging Face repository ({@code config.json}, {@code diffusion_pytorch_model*.safetensors},
 * {@code models_t5_umt5-xxl-enc-bf16.pth}, {@code Wan2.1_VAE.pth}, {@code google/umt5-xxl/})
 * or as ComfyUI's models folder ({@code diffusion_models/}, {@code text_encoders/}, {@code vae/},
 * {@code loras/}). When something is missing it says which file it looked for and where.
 */
public final class ModelDirectory {
    public enum Layout { HUGGING_FACE, COMFYUI }

    /**
     * The files of one model. ditConfig is null where the DiT's config is detected from its keys
     * (ComfyUI single files); loras is null when there is no LoRA folder.
     */
    public record ModelFiles(Layout layout, Path root, Path dit, Path ditConfig, Path textEncoder, Path tokenizer, Path vae, Path loras) {}

    /** The parts of a model, as readiness names them. */
    public static final List<String> PARTS = List.of("dit", "dit_config", "text_encoder", "tokenizer", "vae");

    /**
     * A model directory that lacks something, with every file looked for; missing maps each missing
     * part (one of {@link #PARTS}) to what was looked for where.
     */
    public static final class IncompleteException extends IllegalArgumentException {
        private final Map<String, String> missing;

        public IncompleteException(String message) { this(message, Map.of()); }

        public IncompleteException(String message, Map<String, String> missing) {
            super(message);
            this.missing = Map.copyOf(missing);
        }

        public Map<String, String> missing() { return missing; }
    }

    private ModelDirectory() {}

    public static ModelFiles scan(Path root) {
        if (!Files.isDirectory(root))
            throw new IncompleteException("model directory " + root + " does not exist or is not a directory (set kaze.models.dir)",
                    Map.of("dit", "the DiT weights: " + root + " does not exist", "dit_config", "the DiT config: " + root + " does not exist",
                            "text_encoder", "the umT5 encoder: " + root + " does not exist", "tokenizer", "the umT5 tokenizer: " + root
                                    + " does not exist", "vae", "the VAE: " + root + " does not exist"));
        if (Files.isDirectory(root.resolve("diffusion_models"))) return comfy(root);
        return huggingFace(root);
    }

    private static ModelFiles huggingFace(Path root) {
        Map<String, String> missing = new LinkedHashMap<>();
        Path config = require(root.resolve("config.json"), "dit_config", "the DiT config", missing);
        Path dit = first(root, missing, "dit", "the DiT weights (diffusion_pytorch_model.safetensors.index.json or diffusion_pytorch_model.safetensors)",
                name -> name.equals("diffusion_pytorch_model.safetensors.index.json"),
                name -> name.equals("diffusion_pytorch_model.safetensors"));
        Path t5 = first(root, missing, "text_encoder", "the umT5 encoder (models_t5_umt5-xxl-enc-bf16.pth or a *umt5*.safetensors)",
                name -> name.equals("models_t5_umt5-xxl-enc-bf16.pth"),
                name -> name.contains("umt5") && (name.endsWith(".safetensors") || name.endsWith(".pth")));
        Path tokenizer = require(root.resolve("google/umt5-xxl/tokenizer.json"), "tokenizer", "the umT5 tokenizer", missing);
        Path vae = first(root, missing, "vae", "the VAE (Wan2.1_VAE.pth or wan_2.1_vae.safetensors)",
                name -> name.equals("wan2.1_vae.pth"), name -> name.equals("wan_2.1_vae.safetensors"));
        Path loras = Files.isDirectory(root.resolve("loras")) ? root.resolve("loras") : null;
        failIfMissing(root, Layout.HUGGING_FACE, missing);
        return new ModelFiles(Layout.HUGGING_FACE, root, dit, config, t5, tokenizer, vae, loras);
    }

    private static ModelFiles comfy(Path root) {
        Map<String, String> missing = new LinkedHashMap<>();
        Path dit = first(root.resolve("diffusion_models"), missing, "dit", "a Wan2.1 T2V DiT (e.g. wan2.1_t2v_14B_bf16.safetensors)",
                name -> name.contains("t2v") && name.endsWith(".safetensors"),
                name -> name.startsWith("wan") && name.endsWith(".safetensors"));
        Path t5 = first(root.resolve("text_encoders"), missing, "text_encoder", "the umT5 encoder (e.g. umt5_xxl_fp16.safetensors)",
                name -> name.contains("umt5") && (name.endsWith(".safetensors") || name.endsWith(".pth")));
        Path tokenizer = first(root.resolve("text_encoders"), missing, "tokenizer",
                "the umT5 tokenizer (text_encoders/umt5-xxl/tokenizer.json or text_encoders/tokenizer.json; ComfyUI keeps a "
                        + "SentencePiece model inside the encoder file, which Kaze does not read: copy google/umt5-xxl's tokenizer.json there)",
                name -> name.equals("tokenizer.json"));
        Path vae = first(root.resolve("vae"), missing, "vae", "the Wan2.1 VAE (e.g. wan_2.1_vae.safetensors)",
                name -> name.contains("wan") && name.contains("vae") && (name.endsWith(".safetensors") || name.endsWith(".pth")));
        Path loras = Files.isDirectory(root.resolve("loras")) ? root.resolve("loras") : null;
        failIfMissing(root, Layout.COMFYUI, missing);
        return new ModelFiles(Layout.COMFYUI, root, dit, null, t5, tokenizer, vae, loras);
    }

    private static Path require(Path p, String part, String what, Map<String, String> missing) {
        if (Files.isRegularFile(p)) return p;
        missing.put(part, what + ": looked for " + p);
        return null;
    }

    /** The first file (searching dir and one level below, sorted) matching the first predicate that matches any. */
    @SafeVarargs
    private static Path first(Path dir, Map<String, String> missing, String part, String what, Predicate<String>... rules) {
        List<Path> candidates = new ArrayList<>();
        if (Files.isDirectory(dir)) {
            try (Stream<Path> s = Files.walk(dir, 2)) {
                s.filter(Files::isRegularFile).sorted().forEach(candidates::add);
            } catch (IOException e) {
                missing.put(part, what + ": cannot list " + dir + " (" + e.getMessage() + ")");
                return null;
            }
        }
        for (Predicate<String> rule : rules)
            for (Path p : candidates)
                if (rule.test(p.getFileName().toString().toLowerCase(Locale.ROOT))) return p;
        missing.put(part, what + ": looked in " + dir);
        return null;
    }

    private static void failIfMissing(Path root, Layout layout, Map<String, String> missing) {
        if (!missing.isEmpty())
            throw new IncompleteException("model directory " + root + " (" + layout.name().toLowerCase(Locale.ROOT).replace('_', ' ')
                    + " layout) is incomplete:\n  - " + String.join("\n  - ", missing.values()), missing);
    }
}
