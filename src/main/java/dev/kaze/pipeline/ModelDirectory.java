package dev.kaze.pipeline;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
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

    /** A model directory that lacks something, with every file looked for. */
    public static final class IncompleteException extends IllegalArgumentException {
        public IncompleteException(String message) { super(message); }
    }

    private ModelDirectory() {}

    public static ModelFiles scan(Path root) {
        if (!Files.isDirectory(root))
            throw new IncompleteException("model directory " + root + " does not exist or is not a directory (set kaze.models.dir)");
        if (Files.isDirectory(root.resolve("diffusion_models"))) return comfy(root);
        return huggingFace(root);
    }

    private static ModelFiles huggingFace(Path root) {
        List<String> missing = new ArrayList<>();
        Path config = require(root.resolve("config.json"), "the DiT config", missing);
        Path dit = first(root, missing, "the DiT weights (diffusion_pytorch_model.safetensors.index.json or diffusion_pytorch_model.safetensors)",
                name -> name.equals("diffusion_pytorch_model.safetensors.index.json"),
                name -> name.equals("diffusion_pytorch_model.safetensors"));
        Path t5 = first(root, missing, "the umT5 encoder (models_t5_umt5-xxl-enc-bf16.pth or a *umt5*.safetensors)",
                name -> name.equals("models_t5_umt5-xxl-enc-bf16.pth"),
                name -> name.contains("umt5") && (name.endsWith(".safetensors") || name.endsWith(".pth")));
        Path tokenizer = require(root.resolve("google/umt5-xxl/tokenizer.json"), "the umT5 tokenizer", missing);
        Path vae = first(root, missing, "the VAE (Wan2.1_VAE.pth or wan_2.1_vae.safetensors)",
                name -> name.equals("wan2.1_vae.pth"), name -> name.equals("wan_2.1_vae.safetensors"));
        Path loras = Files.isDirectory(root.resolve("loras")) ? root.resolve("loras") : null;
        failIfMissing(root, Layout.HUGGING_FACE, missing);
        return new ModelFiles(Layout.HUGGING_FACE, root, dit, config, t5, tokenizer, vae, loras);
    }

    private static ModelFiles comfy(Path root) {
        List<String> missing = new ArrayList<>();
        Path dit = first(root.resolve("diffusion_models"), missing, "a Wan2.1 T2V DiT (e.g. wan2.1_t2v_14B_bf16.safetensors)",
                name -> name.contains("t2v") && name.endsWith(".safetensors"),
                name -> name.startsWith("wan") && name.endsWith(".safetensors"));
        Path t5 = first(root.resolve("text_encoders"), missing, "the umT5 encoder (e.g. umt5_xxl_fp16.safetensors)",
                name -> name.contains("umt5") && (name.endsWith(".safetensors") || name.endsWith(".pth")));
        Path tokenizer = first(root.resolve("text_encoders"), missing,
                "the umT5 tokenizer (text_encoders/umt5-xxl/tokenizer.json or text_encoders/tokenizer.json; ComfyUI keeps a "
                        + "SentencePiece model inside the encoder file, which Kaze does not read: copy google/umt5-xxl's tokenizer.json there)",
                name -> name.equals("tokenizer.json"));
        Path vae = first(root.resolve("vae"), missing, "the Wan2.1 VAE (e.g. wan_2.1_vae.safetensors)",
                name -> name.contains("wan") && name.contains("vae") && (name.endsWith(".safetensors") || name.endsWith(".pth")));
        Path loras = Files.isDirectory(root.resolve("loras")) ? root.resolve("loras") : null;
        failIfMissing(root, Layout.COMFYUI, missing);
        return new ModelFiles(Layout.COMFYUI, root, dit, null, t5, tokenizer, vae, loras);
    }

    private static Path require(Path p, String what, List<String> missing) {
        if (Files.isRegularFile(p)) return p;
        missing.add(what + ": looked for " + p);
        return null;
    }

    /** The first file (searching dir and one level below, sorted) matching the first predicate that matches any. */
    @SafeVarargs
    private static Path first(Path dir, List<String> missing, String what, Predicate<String>... rules) {
        List<Path> candidates = new ArrayList<>();
        if (Files.isDirectory(dir)) {
            try (Stream<Path> s = Files.walk(dir, 2)) {
                s.filter(Files::isRegularFile).sorted().forEach(candidates::add);
            } catch (IOException e) {
                missing.add(what + ": cannot list " + dir + " (" + e.getMessage() + ")");
                return null;
            }
        }
        for (Predicate<String> rule : rules)
            for (Path p : candidates)
                if (rule.test(p.getFileName().toString().toLowerCase(Locale.ROOT))) return p;
        missing.add(what + ": looked in " + dir);
        return null;
    }

    private static void failIfMissing(Path root, Layout layout, List<String> missing) {
        if (!missing.isEmpty())
            throw new IncompleteException("model directory " + root + " (" + layout.name().toLowerCase(Locale.ROOT).replace('_', ' ')
                    + " layout) is incomplete:\n  - " + String.join("\n  - ", missing));
    }
}
