package dev.kaze.models;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/** The bundles for the Studio Ghibli recipe on Wan2.1-T2V (the files its inference and LoRAs need). */
public final class Catalog {
    public static final String WAN_14B = "Wan-AI/Wan2.1-T2V-14B";
    public static final String WAN_1_3B = "Wan-AI/Wan2.1-T2V-1.3B";
    public static final String COMFY_REPACK = "Comfy-Org/Wan_2.1_ComfyUI_repackaged";
    public static final String KIJAI = "Kijai/WanVideo_comfy";
    public static final long GHIBLI_CIVITAI_MODEL = 1404755;
    public static final List<Integer> LIGHTX2V_RANKS = List.of(32, 64, 128);
    private static final String MAIN = "main";
    private static final String T5 = "models_t5_umt5-xxl-enc-bf16.pth";
    private static final String TOKENIZER = "google/umt5-xxl/";
    private static final List<String> TOKENIZER_EXTRAS = List.of("tokenizer_config.json", "special_tokens_map.json", "spiece.model");

    private Catalog() {}

    public static List<Bundle> bundles() {
        return List.of(wan14b(), wan14bFp8(), wan1_3b(), lightx2v(128), ghibli());
    }

    public static Optional<Bundle> find(String name) {
        return bundles().stream().filter(b -> b.name().equals(name)).findFirst();
    }

    static Bundle wan14b() {
        List<Bundle.Part> parts = new ArrayList<>();
        parts.add(hub(WAN_14B, "config.json", "config.json"));
        parts.add(hub(WAN_14B, "diffusion_pytorch_model.safetensors.index.json", "diffusion_pytorch_model.safetensors.index.json"));
        for (int i = 1; i <= 6; i++) {
            String shard = "diffusion_pytorch_model-%05d-of-00006.safetensors".formatted(i);
            parts.add(hub(WAN_14B, shard, shard));
        }
        parts.add(hub(WAN_14B, T5, T5));
        parts.add(hub(WAN_14B, "Wan2.1_VAE.pth", "Wan2.1_VAE.pth"));
        parts.addAll(tokenizer(WAN_14B, TOKENIZER));
        return new Bundle("wan2.1-t2v-14b", "Wan2.1-T2V-14B, official bf16 shards (" + WAN_14B + "), Hugging Face layout",
                Bundle.Kind.MODEL, parts);
    }

    static Bundle wan14bFp8() {
        List<Bundle.Part> parts = new ArrayList<>();
        parts.add(hub(COMFY_REPACK, "split_files/diffusion_models/wan2.1_t2v_14B_fp8_e4m3fn.safetensors",
                "diffusion_models/wan2.1_t2v_14B_fp8_e4m3fn.safetensors"));
        parts.add(hub(COMFY_REPACK, "split_files/vae/wan_2.1_vae.safetensors", "vae/wan_2.1_vae.safetensors"));
        parts.add(hub(WAN_14B, T5, "text_encoders/" + T5));
        parts.addAll(tokenizer(WAN_14B, "text_encoders/umt5-xxl/"));
        return new Bundle("wan2.1-t2v-14b-fp8", "Wan2.1-T2V-14B as one float8 e4m3fn file (" + COMFY_REPACK
                + ") with the official umT5 encoder and tokenizer, ComfyUI layout", Bundle.Kind.MODEL, parts);
    }

    static Bundle wan1_3b() {
        List<Bundle.Part> parts = new ArrayList<>();
        parts.add(hub(WAN_1_3B, "config.json", "config.json"));
        parts.add(hub(WAN_1_3B, "diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.safetensors"));
        parts.add(hub(WAN_1_3B, T5, T5));
        parts.add(hub(WAN_1_3B, "Wan2.1_VAE.pth", "Wan2.1_VAE.pth"));
        parts.addAll(tokenizer(WAN_1_3B, TOKENIZER));
        return new Bundle("wan2.1-t2v-1.3b", "Wan2.1-T2V-1.3B (" + WAN_1_3B + ") for small cards and CPUs, Hugging Face layout",
                Bundle.Kind.MODEL, parts);
    }

    /** The lightx2v step-distill LoRA at rank 32, 64 or 128 (the recipe's author uses 128 at 0.9), as lightx2v.safetensors. */
    public static Bundle lightx2v(int rank) {
        if (!LIGHTX2V_RANKS.contains(rank))
            throw new IllegalArgumentException("lightx2v comes at rank 32, 64 or 128, not " + rank);
        String path = "Lightx2v/lightx2v_T2V_14B_cfg_step_distill_v2_lora_rank" + rank + "_bf16.safetensors";
        return new Bundle("lightx2v", "lightx2v CFG/step-distill LoRA for Wan2.1-T2V-14B, rank " + rank + " (" + KIJAI + ")",
                Bundle.Kind.LORA, List.of(hub(KIJAI, path, "lightx2v.safetensors")));
    }

    static Bundle ghibli() {
        return new Bundle("ghibli", "Studio Ghibli style LoRA for Wan2.1-T2V-14B (Civitai model " + GHIBLI_CIVITAI_MODEL
                + ", needs CIVITAI_TOKEN)", Bundle.Kind.LORA,
                List.of(new Bundle.Part(new Bundle.CivitaiModel(GHIBLI_CIVITAI_MODEL), "ghibli.safetensors", false)));
    }

    /**
     * A LoRA from any http(s) URL, saved in the LoRA directory as name (default: the URL's last path
     * segment), with .safetensors added when missing; sha256 may be null.
     */
    public static Bundle url(String url, String sha256, String name) {
        URI uri;
        try {
            uri = URI.create(url);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("not a URL: " + url);
        }
        if (!"https".equalsIgnoreCase(uri.getScheme()) && !"http".equalsIgnoreCase(uri.getScheme()) || uri.getHost() == null)
            throw new IllegalArgumentException("url: needs an http(s) URL, got " + url);
        String file = name != null ? name : uri.getPath().substring(uri.getPath().lastIndexOf('/') + 1);
        if (!file.endsWith(".safetensors")) file += ".safetensors";
        if (!file.matches("[A-Za-z0-9][A-Za-z0-9._-]*"))
            throw new IllegalArgumentException("cannot name the LoRA '" + file + "': give a name of letters, digits, '.', '_' and '-' with --as");
        String stem = file.substring(0, file.length() - ".safetensors".length()).toLowerCase(Locale.ROOT);
        return new Bundle("url-" + stem.replaceAll("[^a-z0-9._-]", "-"), "LoRA from " + url, Bundle.Kind.LORA,
                List.of(new Bundle.Part(new Bundle.DirectUrl(uri, sha256 == null ? null : Checksum.sha256(sha256)), file, false)));
    }

    private static Bundle.Part hub(String repo, String path, String target) {
        return new Bundle.Part(new Bundle.HubFile(repo, MAIN, path), target, false);
    }

    private static List<Bundle.Part> tokenizer(String repo, String targetDir) {
        List<Bundle.Part> parts = new ArrayList<>();
        parts.add(hub(repo, TOKENIZER + "tokenizer.json", targetDir + "tokenizer.json"));
        for (String extra : TOKENIZER_EXTRAS)
            parts.add(new Bundle.Part(new Bundle.HubFile(repo, MAIN, TOKENIZER + extra), targetDir + extra, true));
        return parts;
    }
}
